import Testing
@testable import BPFLoader

/// `--jobs` and `--version` as a user types them; no kernel needed.
@Suite struct CLIJobsTests {
    @Test func jobsBelowOneIsAUsageError() throws {
        let path = try Fixtures.object("instances")
        for bad in ["0", "-1"] {
            let load = try runBPFPipe(["load", path, "--pin", "/sys/fs/bpf/bpfpipe-never", "--jobs=\(bad)"])
            #expect(load.status == 2, "\(load.stderr)")
            #expect(load.stderr.contains("--jobs must be 1 or more, got \(bad)"))
            let run = try runBPFPipe(["run", "/nonexistent/pipeline.yaml", "--jobs=\(bad)"])
            #expect(run.status == 2, "\(run.stderr)")
            #expect(run.stderr.contains("--jobs must be 1 or more, got \(bad)"))
        }
        let notANumber = try runBPFPipe(["load", path, "--pin", "/sys/fs/bpf/bpfpipe-never", "--jobs", "many"])
        #expect(notANumber.status == 2)
    }
}

extension CLIJobsTests {
    @Test func versionPrintsTheVersionAndExitsZero() throws {
        let result = try runBPFPipe(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "0.10.0\n")
    }
}
