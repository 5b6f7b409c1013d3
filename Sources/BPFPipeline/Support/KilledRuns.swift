import BPFLoader
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Staging folders (`<deployment>/_staging_<pid>`) of runs that were killed before they could
/// finish or undo: their links may still be attached (a pinned link stays attached), and a kill
/// between two renames of the swap leaves the previous deployment's folder inside them.
///
/// Cleaning one puts back every `_previous_<object>` folder it holds (so a deployment caught
/// half-swapped returns to the previous one whole), gives links the previous deployment's
/// programs again where the killed run had updated them in place, and removes the folder, which
/// unpins (and so detaches) everything the killed run attached.
public enum KilledRuns {
    public struct Found: Sendable, Codable {
        public var path: String
        public var pid: Int32
        /// Link pins that were in the folder (each one detached with it).
        public var links: Int
        /// Objects whose previous folder was put back.
        public var restored: [String]
    }

    /// Cleans the staging folders under `deploymentDirectory` whose process is gone.
    /// `includingOwnPID`: also this process's pid (a run that has not made its own staging folder
    /// yet and holds the deployment lock knows a folder with its pid is a dead one's).
    public static func clean(_ deploymentDirectory: String, includingOwnPID: Bool = false) -> [Found] {
        var found: [Found] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: deploymentDirectory))?.sorted() ?? [] {
            guard let pid = PinLayout.stagingPID(name) else { continue }
            if pid == getpid() ? !includingOwnPID : isAlive(pid) { continue }
            let deployment = PinLayout(directory: deploymentDirectory)
            let staging = "\(deploymentDirectory)/\(name)"
            var restored: [String] = []
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: staging))?.sorted() ?? [] {
                guard let object = PinLayout.previousObject(entry) else { continue }
                let final = deployment.objectDirectory(object)
                if Paths.exists(final) { _ = rename(final, "\(staging)/\(PinLayout.killedFolderName(object))") }
                if rename("\(staging)/\(entry)", final) == 0 {
                    restored.append(object)
                    reattachPrograms(in: final)
                }
            }
            // Counted after the previous folders went back: these are the killed run's own links.
            let links = linkPins(under: staging)
            try? FileManager.default.removeItem(atPath: staging)
            found.append(Found(path: staging, pid: pid, links: links, restored: restored))
        }
        return found
    }

    /// Whether a process with this pid exists (EPERM: it does, and is someone else's).
    static func isAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// A link of a restored folder that the killed run updated in place runs the killed run's
    /// program; it gets the program pinned beside it (`progs/` for `links/`) again.
    private static func reattachPrograms(in objectFolder: String) {
        let object = PinLayout(directory: objectFolder)
        for pin in pins(under: object.linksDirectory) {
            guard let programPin = object.programPin(forLink: pin), let link = try? BPFLink.openPinned(pin), let info = try? link.info(),
                  let program = try? BPFFS.openPinned(programPin), let id = try? ProgramKernelInfo(fd: program).id,
                  id != info.programID else { continue }
            try? link.update(program: program)
        }
    }

    /// Pins in `links/` folders below `root`.
    private static func linkPins(under root: String) -> Int {
        pins(under: root).filter(PinLayout.isLinkPin).count
    }

    private static func pins(under root: String) -> [String] {
        guard let names = try? FileManager.default.subpathsOfDirectory(atPath: root) else { return [] }
        return names.map { "\(root)/\($0)" }.filter { path in
            var st = stat()
            return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR
        }.sorted()
    }
}
