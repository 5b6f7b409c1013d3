import ArgumentParser
import BPFLoader

/// `--jobs N`, shared by `run` and `load`: how many programs and instances load at once.
struct JobsOption: ParsableArguments {
    @Option(name: .customLong("jobs"), help: "Load up to N programs and instances at once (default: the number of online CPUs).")
    var jobs: Int?

    func validate() throws {
        if let jobs, jobs < 1 {
            throw ValidationError("--jobs must be 1 or more, got \(jobs)")
        }
    }
}
