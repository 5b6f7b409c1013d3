import ArgumentParser
import BPFPipeline

extension BPFPipeCommand {
    /// The child side of `isolation: process`; bpfpipe starts it itself.
    struct PluginHostCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plugin-host",
            abstract: "Run a preprocessor plugin for a parent bpfpipe over descriptor 3 (internal).",
            shouldDisplay: false
        )

        @Argument var plugin: String

        func run() throws {
            let status = PluginHost.serve(pluginPath: plugin)
            if status != 0 { throw ExitCode(status) }
        }
    }
}
