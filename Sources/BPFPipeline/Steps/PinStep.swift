import BPFLoader
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Pins every object of a run so that the deployment changes whole or not at all: each object is
/// pinned into a staging folder first; only when all are pinned is each moved into place with
/// rename(2) (which bpffs supports), replacing the previous deployment's folder. On failure the
/// staging folder and any shared-map pins this run made are removed.
struct PinStep {
    let deploymentDirectory: String   // <pin-root>/<name>
    let sharedMapDirectory: String    // <pin-root>/<name>/shared

    struct Pinned {
        var object: String
        var pins: [PinnedObject]
    }

    func pin(_ objects: [(name: String, object: BPFObject)], log: (String, String, PinnedObject) -> Void) throws -> [Pinned] {
        // bpffs refuses names with dots, so the staging folder is marked with underscores.
        let staging = "\(deploymentDirectory)/_staging_\(getpid())"
        var result: [Pinned] = []
        do {
            try BPFFS.prepare(deploymentDirectory)
            try BPFFS.makeDirectories(staging)
            for (name, obj) in objects {
                let pins = try obj.pin(to: "\(staging)/\(name)")
                result.append(Pinned(object: name, pins: pins))
            }
            for (name, _) in objects {
                let final = "\(deploymentDirectory)/\(name)"
                if Paths.exists(final) {
                    try move(final, to: "\(staging)/_previous_\(name)")
                }
                try move("\(staging)/\(name)", to: final)
            }
        } catch {
            removeTree(staging)
            for (_, obj) in objects { removeNewSharedPins(obj) }
            throw error
        }
        removeTree(staging)
        // Report the final places, not the staging ones.
        let prefix = staging
        result = result.map { p in
            Pinned(object: p.object, pins: p.pins.map { var pin = $0; pin.path = deploymentDirectory + pin.path.dropFirst(prefix.count); return pin })
        }
        for p in result { for pin in p.pins { log(p.object, pin.name, pin) } }
        return result
    }

    private func move(_ from: String, to: String) throws {
        guard rename(from, to) == 0 else {
            throw LoaderError(.pin, at: from, "cannot move to \(to): \(String(cString: strerror(errno)))")
        }
    }

    private func removeNewSharedPins(_ obj: BPFObject) {
        for m in obj.maps where m.definition.pinning == .byName && m.reusedFrom == nil {
            _ = unlink("\(sharedMapDirectory)/\(m.name)")
        }
    }

    private func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
