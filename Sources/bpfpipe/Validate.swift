import ArgumentParser
import BPFPipeline

extension BPFPipeCommand {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate",
            abstract: "Check a pipeline file: schema, files, object/program/map/variable names, stage settings, plugins."
        )

        @OptionGroup var options: PipelineOptions

        func run() throws {
            let result = try options.execute(.validate)
            print("\(options.file): ok (\(result.report.objects.count) object(s))")
        }
    }
}
