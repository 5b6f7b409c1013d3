import ArgumentParser
import BPFLoader
import BPFPipeline

extension BPFPipeCommand {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract: "Build, open, relocate and preprocess without loading; print what would be loaded and pinned."
        )

        @OptionGroup var options: PipelineOptions

        @Flag(name: .long, help: "Print the plan as JSON.")
        var json = false

        func run() throws {
            let result = try options.execute(.plan)
            if json { try printJSON(result.report); return }
            let r = result.report
            print("pipeline \(r.pipeline) → \(r.deployment)")
            for o in r.objects {
                let object = PinLayout(directory: r.deployment).object(o.name)
                print("  object \(o.name) (\(o.path))")
                for p in o.programs {
                    print("    program \(p.name) [\(p.type)], \(p.instanceCount) instance(s):")
                    for i in p.instances {
                        let pin = object.programPin(p.name, instance: i.instance, instanceCount: p.instanceCount)
                        print(i.skipped ? "      [\(i.instance)] skipped" : "      [\(i.instance)] \(i.insns ?? 0) insns → \(pin)" + (i.attach.map { ", attached to \($0)" } ?? ""))
                    }
                }
                for m in o.maps {
                    let pin = m.shared ? PinLayout(directory: r.deployment).sharedMapPin(m.name) : object.mapPin(m.name)
                    print("    map \(m.name) [\(m.type)] → \(pin)")
                }
            }
        }
    }
}
