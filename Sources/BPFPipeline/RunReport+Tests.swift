extension RunReport {
    /// One smoke test run on one instance (`test:` in the pipeline file), as it passed.
    public struct TestReport: Codable, Sendable, Equatable {
        /// The test's index in the program's `test` list.
        public var test: Int
        /// `file:line:col` of the test.
        public var at: String
        public var instance: Int
        public var returnValue: UInt32
        public var repeatCount: Int
        /// Wall time of the test-run call (all repetitions).
        public var durationMs: Double
        /// The kernel's mean time of one repetition.
        public var averageNs: UInt32
    }

    /// Puts each test result under its object's program.
    mutating func record(_ results: [TestStep.Result]) {
        for r in results {
            guard let o = objects.firstIndex(where: { $0.name == r.object }),
                  let p = objects[o].programs.firstIndex(where: { $0.name == r.program }) else { continue }
            objects[o].programs[p].tests = (objects[o].programs[p].tests ?? []) + [r.report]
        }
    }
}
