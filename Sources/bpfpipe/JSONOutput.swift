import FoundationEssentials

/// Pretty, key-sorted JSON on stdout, for `--json`.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
}

/// The same JSON, to a file (for `--report`).
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    do {
        try data.write(to: URL(filePath: path))
    } catch {
        printError("error: cannot write report \(path): \(error)")
        throw ExitCodes.stepFailed
    }
}
