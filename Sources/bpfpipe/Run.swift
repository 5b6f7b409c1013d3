import ArgumentParser
import BPFPipeline

extension BPFPipeCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a pipeline: build, open, relocate, preprocess, load, pin and attach everything it declares.",
            discussion: "Pins go under <pin-root>/<name>/<object>/. A failed run leaves the previous deployment as it was."
        )

        @OptionGroup var options: PipelineOptions

        func run() throws {
            let result = try options.execute(.run)
            let instances = result.report.objects.flatMap(\.programs).flatMap(\.instances)
            print("deployed \(result.report.pipeline): \(result.report.objects.count) object(s), \(instances.filter { !$0.skipped }.count) program instance(s), \(result.report.objects.flatMap(\.links).count) link(s) at \(result.report.deployment)")
        }
    }
}
