import ArgumentParser

/// Options shared by every subcommand that reports what it did.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false
}
