import ArgumentParser
import BPFLoader
import BPFPipeline

extension BPFPipeCommand {
    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dump",
            abstract: "Print every program instance after preprocessing, in bpftool's 'prog dump xlated' syntax. Needs no kernel.",
            discussion: """
            FILE is a pipeline (.yaml or .yml: built, opened, relocated and preprocessed as 'plan' \
            does) or a BPF object (anything else: relocated and preprocessed without a \
            preprocessor, so each program has one instance). No map is created: map references \
            print as map[NAME] or map[NAME][0]+OFFSET. Function signatures and '; source' lines \
            come from the object's BTF. When a stage inserted or changed instructions, a marker \
            column shows them against the relocated program: '+' inserted, '*' changed.

            With --xlated, FILE is a pinned program and the output is what the kernel holds for \
            it, as 'bpftool prog dump xlated pinned FILE' prints it (maps as map[id:N]).
            """
        )

        @OptionGroup var options: PipelineOptions

        @Option(name: .long, help: "Only this program.")
        var program: String?

        @Option(name: .long, help: "Only this instance (0-based).")
        var instance: Int?

        @Flag(name: .long, help: "FILE is a pinned program: dump the kernel's translated instructions.")
        var xlated = false

        func validate() throws {
            if xlated && (program != nil || instance != nil) {
                throw ValidationError("--xlated dumps one pinned program; --program and --instance do not apply")
            }
            if let instance, instance < 0 { throw ValidationError("--instance must be 0 or more, got \(instance)") }
        }

        func run() throws {
            if xlated {
                do { print(try XlatedProgram.pinned(options.file).listing(), terminator: "") } catch { throw fail(error) }
                return
            }
            let objects: [(name: String, object: BPFObject)]
            if options.file.hasSuffix(".yaml") || options.file.hasSuffix(".yml") {
                let result = try options.execute(.plan, quiet: true)
                objects = zip(result.report.objects, result.objects).map { ($0.name, $1) }
            } else {
                do {
                    let obj = try BPFObject.open(path: options.file)
                    try obj.relocate(createMaps: false)
                    try obj.preprocess()
                    objects = [(obj.name, obj)]
                } catch { throw fail(error) }
            }
            try dump(objects)
        }

        private func dump(_ objects: [(name: String, object: BPFObject)]) throws {
            let programs = objects.flatMap { o in o.object.programs.filter(\.autoload).map { (o.name, o.object, $0) } }
            if let program, !programs.contains(where: { $0.2.name == program }) {
                printError("error: \(options.file): no program '\(program)'; it has: \(programs.map(\.2.name).joined(separator: ", "))")
                throw ExitCodes.invalidInput
            }
            var first = true
            for (objectName, object, p) in programs where program == nil || p.name == program {
                if let instance, instance >= p.instances.count {
                    printError("error: \(options.file): program '\(p.name)' has \(p.instances.count) instance(s); --instance \(instance) is out of range")
                    throw ExitCodes.invalidInput
                }
                for n in p.instances.indices where instance == nil || n == instance {
                    guard let d = object.disassembly(of: p, instance: n) else { continue }
                    if !first { print("") }
                    first = false
                    var header = "object \(objectName), program \(p.name) (\(p.kind?.typeName ?? "unknown type")), instance \(n) of \(p.instances.count)"
                    guard let text = d.text else {
                        print(header + ": skipped by its preprocessor")
                        continue
                    }
                    header += ": \(d.instructions) insns"
                    if d.inserted + d.changed + d.removed > 0 {
                        header += " (\(d.inserted) inserted, \(d.changed) changed, \(d.removed) removed by preprocessing)"
                    }
                    print(header)
                    print(text, terminator: "")
                }
            }
        }
    }
}
