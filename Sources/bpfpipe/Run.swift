import ArgumentParser
import BPFPipeline

extension BPFPipeCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a pipeline: build, open, relocate, preprocess, load, pin and attach everything it declares.",
            discussion: "Pins go under <pin-root>/<name>/<object>/. A failed run leaves the previous deployment as it was. A deployment that already matches the file is left alone (\"unchanged\", exit 0) unless --force."
        )

        @OptionGroup var options: PipelineOptions

        @OptionGroup var jobs: JobsOption

        @Flag(name: .long, help: "Redeploy even when the deployment already matches the file.")
        var force = false

        func run() throws {
            let result = try options.execute(.run, force: force, jobs: jobs.jobs)
            guard result.report.changed else {
                print("unchanged \(result.report.pipeline): \(result.report.deployment) already matches \(options.file)")
                return
            }
            let instances = result.report.objects.flatMap(\.programs).flatMap(\.instances)
            print("deployed \(result.report.pipeline): \(result.report.objects.count) object(s), \(instances.filter { !$0.skipped }.count) program instance(s), \(result.report.objects.flatMap(\.links).count) link(s) at \(result.report.deployment)")
        }
    }
}
