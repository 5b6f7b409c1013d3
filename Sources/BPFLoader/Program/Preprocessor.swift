/// What a preprocessor knows about the instance it is asked to produce.
public struct PreprocessContext: Sendable {
    public var object: String
    public var program: String
    public var section: String
    public var programType: UInt32
    /// The instance being produced, 0..<instances.
    public var instance: Int
    public var instances: Int

    public init(object: String, program: String, section: String, programType: UInt32, instance: Int, instances: Int) {
        self.object = object
        self.program = program
        self.section = section
        self.programType = programType
        self.instance = instance
        self.instances = instances
    }
}

/// The seed's `bpf_program_prep_t`: called once per instance with the relocated instructions;
/// returns the instance's instructions, or nil to skip the instance (it then has no fd).
/// A thrown error stops the load.
public typealias Preprocessor = @Sendable (_ context: PreprocessContext, _ instructions: [Instruction]) throws -> [Instruction]?

/// One instance of a program: its final code and, once loaded, its fd. A skipped instance has
/// neither.
public struct ProgramInstance: Sendable {
    public var index: Int
    /// nil when the preprocessor skipped this instance.
    public var code: LinkedProgram?
    public var fd: FileDescriptor?
    public var isSkipped: Bool { code == nil }
}
