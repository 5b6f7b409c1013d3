import ArgumentParser
import BPFLoader

extension BPFPipeCommand {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Show what a BPF object declares: programs, maps, global data. Needs no kernel."
        )

        @Argument(help: "The BPF object (.o) to read.")
        var object: String

        @OptionGroup var output: OutputOptions

        func run() throws {
            let spec: ObjectSpec
            do { spec = try ObjectSpec.open(path: object) } catch { throw fail(error) }
            let report = InspectReport(spec)
            if output.json {
                try printJSON(report)
                return
            }
            print("object \(report.object) (license \"\(report.license)\")")
            print("programs:")
            for p in report.programs {
                print("  \(p.name): section '\(p.section)', type \(p.type ?? "unknown"), \(p.instructions) instructions\(p.autoload ? "" : ", not loaded by default")")
            }
            print("maps:")
            for m in report.maps where m.globalData == nil {
                var line = "  \(m.name): \(m.type), key \(m.keySize) B, value \(m.valueSize) B, max_entries \(m.maxEntries)"
                if m.flags != 0 { line += ", flags 0x\(String(m.flags, radix: 16))" }
                if m.pinning != "none" { line += ", pinning \(m.pinning)" }
                if let inner = m.inner { line += ", inner map \(inner)" }
                print(line)
            }
            print("global data:")
            for m in report.maps where m.globalData != nil {
                print("  \(m.globalData!) (map \(m.name), \(m.valueSize) bytes\(m.readOnly ? ", read-only" : ""))")
                for v in report.variables where v.section == m.globalData {
                    print("    +\(v.offset) \(v.name): \(v.type) (\(v.size) bytes)")
                }
            }
        }
    }
}

struct InspectReport: Encodable {
    struct ProgramEntry: Encodable {
        var name, section: String
        var type: String?
        var instructions: Int
        var autoload: Bool
    }
    struct MapEntry: Encodable {
        var name, type: String
        var keySize, valueSize, maxEntries, flags: UInt32
        var pinning: String
        var inner: String?
        var globalData: String?
        var readOnly: Bool
    }
    struct VariableEntry: Encodable {
        var section, name, type: String
        var offset, size: Int
    }
    var object, license: String
    var programs: [ProgramEntry]
    var maps: [MapEntry]
    var variables: [VariableEntry]

    init(_ spec: ObjectSpec) {
        object = spec.path
        license = spec.license
        programs = spec.programs.map {
            ProgramEntry(name: $0.name, section: $0.section, type: $0.kind?.typeName, instructions: $0.instructionCount, autoload: $0.autoload)
        }
        maps = spec.maps.map { m in
            var section: String?
            if case .globalData(let s) = m.origin { section = s }
            return MapEntry(name: m.name, type: m.typeName, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries,
                            flags: m.flags, pinning: m.pinning == .byName ? "by-name" : "none",
                            inner: m.inner.map { $0.definition.typeName }, globalData: section, readOnly: m.freezeAfterInit)
        }
        variables = spec.globalVariables.map { VariableEntry(section: $0.section, name: $0.name, type: $0.typeName, offset: $0.offset, size: $0.size) }
    }
}
