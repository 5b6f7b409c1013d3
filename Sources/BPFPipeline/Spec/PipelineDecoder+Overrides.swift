/// Overrides real tools apply before load: a map's value size (`value-size`) and a tracing
/// program's attach target (`attach-to`). Kept apart from `PipelineDecoder.swift` so the schema
/// grows here.
extension PipelineDecoder {
    static let mapOverrideKeys = ["value-size"]
    static let programOverrideKeys = ["attach-to"]

    static func readMapOverrides(_ fields: MappingFields, into entry: inout MapEntry) throws {
        if let n = fields.optional("value-size") {
            let value = try MappingFields.naming("value-size") { try n.int() }
            guard value >= 1, value <= Int64(UInt32.max) else {
                throw PipelineError(at: n.mark, "'value-size' must be between 1 and \(UInt32.max), found \(value)")
            }
            entry.valueSize = Override(UInt32(value), mark: n.mark)
        }
    }

    static func readProgramOverrides(_ fields: MappingFields, into entry: inout ProgramEntry) throws {
        if let n = fields.optional("attach-to") {
            let target = try MappingFields.naming("attach-to") { try n.string() }
            guard !target.isEmpty, !target.contains(where: { $0 == " " || $0 == "/" }) else {
                throw PipelineError(at: n.mark, "'attach-to' must name one kernel function, tracepoint, iterator or LSM hook, found '\(target)'",
                                    hint: "write the name alone, as after the '/' of a section: 'attach-to: sched_switch'")
            }
            entry.attachTo = Override(target, mark: n.mark)
        }
    }
}

/// A value set in the pipeline file, with where it was written (for errors found later).
public struct Override<Value: Sendable & Equatable>: Sendable, Equatable {
    public var value: Value
    public var mark: SourceMark
    public init(_ value: Value, mark: SourceMark) {
        self.value = value
        self.mark = mark
    }
}
