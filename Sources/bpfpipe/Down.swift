import ArgumentParser
import BPFLoader
import BPFPipeline

extension BPFPipeCommand {
    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "down",
            abstract: "Remove what a pipeline deployed; removing link pins detaches (kept maps stay unless --include-kept)."
        )

        @Argument(help: "The pipeline file (YAML).")
        var file: String

        @Flag(name: .customLong("include-kept"), help: "Also remove kept maps (keep: true, pin: shared) and their data.")
        var includeKept = false

        @Flag(name: .customLong("dry-run"), help: "List what would be removed; remove nothing.")
        var dryRun = false

        @Flag(name: .long, help: "Print the pins removed (or that would be) as JSON, with \"changed\".")
        var json = false

        @OptionGroup var locking: LockOptions

        struct Outcome: Encodable {
            var deployment: String
            var changed: Bool
            var dryRun: Bool
            var removed: [String]
        }

        func run() throws {
            let spec = try decodeOrExit(file)
            let deployment = Deployment(spec: spec)
            let lock = try locking.acquire(deployment.directory)
            if !dryRun { for k in deployment.removeKilledRuns() where !json { print(KilledRunsText.line(k)) } }
            let removed = deployment.down(includeKept: includeKept, dryRun: dryRun)
            withExtendedLifetime(lock) {}
            if json {
                try printJSON(Outcome(deployment: deployment.directory, changed: !removed.isEmpty, dryRun: dryRun, removed: removed))
            } else {
                let links = removed.filter(PinLayout.isLinkPin).count
                print("\(dryRun ? "would remove" : "removed") \(removed.count) pin(s) from \(deployment.directory)"
                      + (links > 0 ? " (\(links) link(s) \(dryRun ? "would be " : "")detached)" : ""))
            }
        }
    }
}
