import BPFLoader

/// What a run loaded and pinned, written by `--report FILE` as JSON.
public struct RunReport: Codable, Sendable {
    public struct Instance: Codable, Sendable {
        public var instance: Int
        public var skipped: Bool
        public var insns: Int?
        public var id: UInt32?
        public var tag: String?
        public var pin: String?
        /// What the instance is (or would be) attached to; nil when it is not attached.
        public var attach: String? = nil
    }
    public struct ProgramReport: Codable, Sendable {
        public var name: String
        public var section: String
        public var type: String
        public var instanceCount: Int
        public var instances: [Instance]
        /// Each passed smoke test, per instance (absent when the program has no tests).
        public var tests: [TestReport]? = nil
    }
    public struct MapReport: Codable, Sendable {
        public var name: String
        public var type: String
        public var id: UInt32?
        public var pin: String?
        public var shared: Bool
    }
    public struct ObjectReport: Codable, Sendable {
        public var name: String
        public var path: String
        public var programs: [ProgramReport]
        public var maps: [MapReport]
        /// What the attach step attached, pinned under `<object>/links/`.
        public var links: [AttachedLink]
    }
    public var pipeline: String
    public var file: String
    public var mode: String
    public var deployment: String
    public var objects: [ObjectReport]
    /// false when `run` found the deployment already matching the file and changed nothing.
    public var changed: Bool = true
}
