import ArgumentParser
import BPFLoader

@main
struct BPFPipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        // Every command names itself: without a name, ArgumentParser derives one with
        // String(describing:), whose protocol-conformance lookups scan the whole binary once per
        // command at every start (most of `bpfpipe --version`'s time).
        commandName: "bpfpipe",
        abstract: "Load eBPF objects into the kernel: open, relocate, preprocess, load and pin.",
        discussion: """
        Exit codes: 0 success; 1 a step failed; 2 invalid input or usage; 3 environment \
        (not root, no BPF, no bpffs).
        """,
        version: bpfpipeVersion,
        subcommands: [Run.self, Plan.self, Validate.self, Status.self, Diff.self, Down.self, Load.self, Inspect.self, Dump.self, PluginHostCommand.self]
    )

    /// ArgumentParser's own `main()` exits with EX_USAGE (64) on a parse or validation error;
    /// the documented code for usage errors is 2, so those are remapped here.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                exit(withError: ExitCodes.invalidInput)
            }
            exit(withError: error)
        }
    }
}
