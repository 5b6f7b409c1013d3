import BPFLoader
import FoundationEssentials

/// What makes a deployed object what it is, as one SHA-256: the pipeline's entry for it (keys
/// sorted, comments and marks left out), the object file's bytes, and every instance's final code
/// as the kernel would digest it (map fds zeroed). Anything that reaches the kernel changes it: a
/// global, a stage's values, a plugin's output, the object, a map definition, an attach target.
/// A run pins it with the object, so the next run can tell "already deployed" from "changed".
public enum Fingerprint {
    /// The name an object's fingerprint is pinned under (`PinLayout.digestPin`).
    public static let pinName = PinLayout.digestName

    public static func of(spec: PipelineSpec, entry: ObjectEntry, object: BPFObject) throws -> [UInt8] {
        var hash = SHA256()
        hash.update("bpfpipe-fingerprint-v1\u{0}\(spec.pinRoot)\u{0}\(spec.name)\u{0}\(entry.canonical)\u{0}")
        guard let bytes = FileManager.default.contents(atPath: object.path) else {
            throw LoaderError(.open, file: object.path, "cannot read the object to fingerprint it")
        }
        hash.update(bytes)
        for p in object.programs.sorted(by: { $0.name < $1.name }) where p.autoload {
            hash.update("\u{0}program \(p.name) \(p.instanceCount)\u{0}")
            for inst in p.instances {
                guard let code = inst.code else { hash.update("skip \(inst.index)\u{0}"); continue }
                hash.update("instance \(inst.index)\u{0}")
                hash.update(ProgramTag.hashedBytes(code.instructions))
            }
        }
        return hash.digest()
    }

    public static func hex(_ digest: [UInt8]) -> String {
        digest.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }
}
