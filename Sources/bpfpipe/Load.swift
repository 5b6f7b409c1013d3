import ArgumentParser
import BPFLoader

extension BPFPipeCommand {
    struct Load: ParsableCommand {
        private static let (progs, maps, links) = (PinLayout.programsFolder, PinLayout.mapsFolder, PinLayout.linksFolder)
        static let configuration = CommandConfiguration(
            commandName: "load",
            abstract: "Load every program of a BPF object and pin programs and maps.",
            // The layout's words come from PinLayout, the one place that defines it.
            discussion: """
            Pins go to DIR/\(progs)/<program> (DIR/\(progs)/<program>/<n> per instance) and \
            DIR/\(maps)/<map>, with '.' in names replaced by '_'. bpffs is mounted at /sys/fs/bpf \
            when it is not. With --attach, every program whose section names its target \
            (uprobe/PATH:FUNC, tp/CAT/NAME, raw_tp/NAME, tp_btf/NAME, kprobe/FUNC, ...) is \
            attached, every instance, and the links are pinned at DIR/\(links)/<program> \
            (DIR/\(links)/<program>/<n>). On any failure nothing stays pinned or attached.
            """
        )

        @Argument(help: "The BPF object (.o) to load.")
        var object: String

        @Option(name: .long, help: "Directory on bpffs to pin programs and maps under.")
        var pin: String

        @Option(name: .customLong("pin-maps-by-name"), help: "Where maps declared 'pinning: LIBBPF_PIN_BY_NAME' are pinned and reused.")
        var pinMapsByName = "/sys/fs/bpf"

        @Option(name: .customLong("type"), help: "Declare a program's type: PROGRAM=TYPE (e.g. count=socket); repeatable.")
        var types: [String] = []

        @Flag(name: .long, help: "Attach programs whose section names a target and pin the links under DIR/\(PinLayout.linksFolder).")
        var attach = false

        @OptionGroup var jobs: JobsOption

        @OptionGroup var output: OutputOptions

        func validate() throws {
            for t in types where t.split(separator: "=").count != 2 {
                throw ValidationError("--type expects PROGRAM=TYPE, got '\(t)'")
            }
            for t in types {
                let name = String(t.split(separator: "=")[1])
                if SectionDefinitions.kind(forTypeName: name) == nil {
                    throw ValidationError("--type \(t): unknown program type '\(name)'")
                }
            }
        }

        func run() throws {
            var options = LoadOptions()
            options.pinMapsByNameDirectory = pinMapsByName
            if let n = jobs.jobs { options.jobs = n }
            do {
                let obj = try BPFObject.open(path: object, options: options)
                for t in types {
                    let parts = t.split(separator: "=").map(String.init)
                    guard let p = obj.program(named: parts[0]) else {
                        throw ValidationError("--type \(t): the object has no program '\(parts[0])' (it has \(obj.programs.map(\.name).joined(separator: ", ")))")
                    }
                    p.kind = SectionDefinitions.kind(forTypeName: parts[1])
                }
                try BPFFS.prepare(pin)
                try obj.load()
                let pinned: [PinnedObject]
                var links: [PinnedLink]? = nil
                let existed = BPFFS.pathExists(pin)
                do {
                    pinned = try obj.pin(to: pin, commitByNamePins: !attach)
                    if attach {
                        do {
                            links = try obj.attachAndPinLinks(under: pin)
                        } catch {
                            BPFObject.removePins(pinned, under: pin, removeDirectory: !existed)
                            throw error
                        }
                        obj.commitNewByNamePins()
                    }
                } catch {
                    // Maps pinned by name at load time go too: nothing of a failed load stays.
                    obj.removeNewByNamePins()
                    throw error
                }
                for w in obj.warnings { printError("warning: \(w)") }
                if output.json {
                    try printJSON(LoadReport(object: object, pinned: pinned, links: links))
                } else {
                    for p in pinned {
                        let what = p.kind == .program ? "program" : "map"
                        let inst = p.instance.map { " instance \($0)" } ?? ""
                        print("pinned \(what) \(p.name)\(inst) (id \(p.id)) at \(p.path)")
                    }
                    for l in links ?? [] {
                        let inst = l.instance.map { " instance \($0)" } ?? ""
                        print("attached program \(l.program)\(inst) to \(l.target) (link id \(l.id)) at \(l.path)")
                    }
                }
            } catch let e as ValidationError {
                throw e
            } catch {
                throw fail(error)
            }
        }
    }
}

struct LoadReport: Encodable {
    var object: String
    var pinned: [PinnedObject]
    /// Present with --attach.
    var links: [PinnedLink]? = nil
}
