import BPFLoader
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Pins every object of a run so that the deployment changes whole or not at all: each object is
/// pinned into a staging folder first; only when all are pinned is each moved into place with
/// rename(2) (which bpffs supports), replacing the previous deployment's folder. On failure the
/// folders already swapped are swapped back and the staging folder is removed.
struct PinStep {
    let layout: PinLayout             // <pin-root>/<name>
    var deploymentDirectory: String { layout.directory }
    /// Pinned as `<object>/digest` with each object, so it swaps in and out with it.
    var fingerprints: [String: [UInt8]] = [:]
    /// Fault injection for tests: called after each object is staged ("pinned") and swapped ("swapped").
    var fault: ((_ object: String, _ stage: String) throws -> Void)?
    /// Runs once every object is pinned in the staging folder and before anything is swapped in
    /// (the test step, then the attach step, which pins links beside the objects' pins); if it
    /// throws, the staging folder is removed and the previous deployment stays as it was.
    var beforeSwap: ((_ staging: String) throws -> Void)?
    /// Runs first when anything fails, before the folders are put back and the staging removed.
    var onFailure: (() -> Void)?

    struct Pinned {
        var object: String
        var pins: [PinnedObject]
    }

    func pin(_ objects: [(name: String, object: BPFObject)], log: (String, String, PinnedObject) -> Void) throws -> [Pinned] {
        let staging = layout.stagingDirectory(pid: getpid())
        let stagingLayout = PinLayout(directory: staging)
        var result: [Pinned] = []
        var swapped: [(final: String, previous: String?)] = []
        do {
            try BPFFS.prepare(deploymentDirectory)
            try BPFFS.makeDirectories(staging)
            for (name, obj) in objects {
                let pins = try obj.pin(to: stagingLayout.objectDirectory(name), commitByNamePins: false)
                if let digest = fingerprints[name] { try PinnedDigest.pin(digest, at: stagingLayout.object(name).digestPin) }
                result.append(Pinned(object: name, pins: pins))
                try fault?(name, "pinned")
            }
            try beforeSwap?(staging)
            for (name, _) in objects {
                let final = layout.objectDirectory(name)
                var previous: String?
                if Paths.exists(final) {
                    previous = stagingLayout.objectDirectory(PinLayout.previousFolderName(name))
                    try move(final, to: previous!)
                }
                swapped.append((final, previous))
                try move(stagingLayout.objectDirectory(name), to: final)
                try fault?(name, "swapped")
            }
        } catch {
            onFailure?()
            // Put back every object folder already swapped, newest first, then drop the staging.
            for s in swapped.reversed() {
                if Paths.exists(s.final), let name = s.final.split(separator: "/").last { _ = rename(s.final, stagingLayout.objectDirectory(PinLayout.failedFolderName(String(name)))) }
                if let previous = s.previous { _ = rename(previous, s.final) }
            }
            removeTree(staging)
            throw error
        }
        removeTree(staging)
        for (_, obj) in objects { obj.commitNewByNamePins() }
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

    private func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
