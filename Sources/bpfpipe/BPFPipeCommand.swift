import ArgumentParser
import BPFLoader

@main
struct BPFPipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpfpipe",
        abstract: "Load eBPF objects into the kernel: open, relocate, preprocess, load and pin.",
        discussion: """
        Exit codes: 0 success; 1 a step failed; 2 invalid input or usage; 3 environment \
        (not root, no BPF, no bpffs).
        """,
        subcommands: [Load.self, Inspect.self]
    )
}
