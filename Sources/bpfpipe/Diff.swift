import ArgumentParser
import BPFPipeline

extension BPFPipeCommand {
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "Show what `run` would change, without changing anything.",
            discussion: "Exits 0 when a run would change nothing, 1 when it would (like git diff --exit-code); 2 and 3 as for other commands."
        )

        @OptionGroup var options: PipelineOptions

        @Flag(name: .long, help: "Print the differences as JSON.")
        var json = false

        func run() throws {
            let plan = try options.execute(.plan, quiet: true)
            let spec = try decodeOrExit(options.file)
            let diff: DeploymentDiff
            do { diff = try Deployment(spec: spec).diff(plan: plan) } catch { throw fail(error) }
            if json {
                try printJSON(diff)
            } else {
                printText(diff)
            }
            if diff.changed { throw ExitCodes.stepFailed }
        }

        private func printText(_ diff: DeploymentDiff) {
            guard diff.changed else {
                print("\(diff.deployment): no changes")
                return
            }
            for o in diff.objects {
                print("object \(o.name): \(o.action)")
                for i in o.instances {
                    let which = i.program + (i.instance.map { "[\($0)]" } ?? "")
                    switch (i.action, i.codeChanged) {
                    case ("load", _): print("  + program \(which) tag \(i.newTag)")
                    case (_, true): print("  ~ program \(which) tag \(i.oldTag ?? "?") -> \(i.newTag)")
                    default: print("  ~ program \(which) reloaded, same code (tag \(i.newTag))")
                    }
                }
                for m in o.maps {
                    let sign = ["create": "+", "keep": "=", "refuse": "!"][m.action] ?? "~"
                    print("  \(sign) map \(m.name): \(m.action)" + (m.differences.isEmpty ? "" : " (\(m.differences.joined(separator: "; ")))"))
                }
            }
            for p in diff.addPins { print("+ pin  \(p)") }
            for p in diff.removePins { print("- pin  \(p)") }
            for p in diff.addLinks { print("+ link \(p)") }
            for p in diff.removeLinks { print("- link \(p)") }
        }
    }
}
