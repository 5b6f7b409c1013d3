import ArgumentParser
import BPFPipeline

extension BPFPipeCommand {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Compare what a pipeline declares with what is pinned: missing, extra and stale programs and links.",
            discussion: "Exits 0 only when they match, 1 when they differ."
        )

        @OptionGroup var options: PipelineOptions

        @Flag(name: .long, help: "Print the comparison as JSON.")
        var json = false

        func run() throws {
            let spec = try decodeOrExit(options.file)
            let killed = Deployment(spec: spec).removeKilledRuns()
            if !json { for k in killed { print(KilledRunsText.line(k)) } }
            let plan = try options.execute(.plan, quiet: true)
            var status: Deployment.Status
            do { status = try Deployment(spec: spec).status(plan: plan) } catch { throw fail(error) }
            status.killedRuns = killed
            if json {
                try printJSON(status)
            } else {
                for p in status.missing { print("missing  \(p)") }
                for p in status.extra { print("extra    \(p)") }
                for s in status.stale { print("stale    \(s.pin) (pinned tag \(s.pinnedTag), file gives \(s.expectedTag))") }
                for m in status.misattached {
                    print("link     \(m.link) runs program \(m.linkProgramID), not the deployed instance" + (m.deployedProgramID.map { " \($0)" } ?? ""))
                }
                for o in status.outdated { print("outdated \(status.deployment)/\(o) (deployed from a different file, object or code)") }
                print(status.matches ? "\(status.deployment): up to date" : "\(status.deployment): differs from \(options.file)")
            }
            if !status.matches { throw ExitCodes.stepFailed }
        }
    }
}
