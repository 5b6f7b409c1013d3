import BPFLoader

/// Applying `value-size` and `attach-to` to an opened object (see `PipelineDecoder+Overrides`).
extension OpenStep {
    /// Checks that `value-size` can apply to map `name`; the new size then goes into its
    /// definition like `max-entries`, so a kept map is checked against it the same way.
    static func checkValueSize(_ size: Override<UInt32>, map name: String, definition: MapDefinition) throws {
        if definition.isGlobalData {
            throw PipelineError(at: size.mark, "map '\(name)' holds a global-data section, whose value size is the section's",
                                hint: "set its variables under 'globals:' instead")
        }
        if definition.structOps != nil {
            throw PipelineError(at: size.mark, "map '\(name)' is a struct_ops map, whose value size is the kernel's ops struct")
        }
    }

    /// Points a tracing or LSM program at another kernel target, resolved against kernel BTF now.
    static func applyAttachTarget(_ target: Override<String>, to program: Program) throws {
        do {
            try program.setAttachTarget(target.value)
        } catch let e as LoaderError {
            throw PipelineError(at: target.mark, "program '\(program.name)': \(e.message)", hint: e.hint)
        }
    }
}
