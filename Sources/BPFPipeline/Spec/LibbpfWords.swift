/// libbpf's names for what a pipeline file spells differently: someone used to libbpf (or to a
/// BTF map definition) writes these first, so an unknown key that is one of them gets pointed
/// at the pipeline's word rather than a plain "unknown key".
enum LibbpfWords {
    static let pipelineKey: [String: String] = [
        "autoload": "load",
        "max_entries": "max-entries",
        "value_size": "value-size",
    ]
}
