import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

extension Deployment {
    /// A link pin whose link runs another program than the instance pinned beside it (a redeploy
    /// that updated it in place was killed, or something outside bpfpipe updated it).
    public struct Misattached: Codable, Sendable {
        public var link: String
        public var linkProgramID: UInt32
        /// nil when the program pin beside it is missing (then it is also listed as missing).
        public var deployedProgramID: UInt32?
    }

    /// Each link pin against the program pin it should run.
    static func misattached(_ links: [String: String]) throws -> [Misattached] {
        var result: [Misattached] = []
        for (link, programPin) in links.sorted(by: { $0.key < $1.key }) {
            let info = try BPFLink.openPinned(link).info()
            let deployed = Paths.exists(programPin) ? try ProgramKernelInfo(fd: BPFFS.openPinned(programPin)).id : nil
            if deployed != info.programID {
                result.append(Misattached(link: link, linkProgramID: info.programID, deployedProgramID: deployed))
            }
        }
        return result
    }

    /// Finds the staging folders of killed runs of this deployment and removes them (see `KilledRuns`).
    public func removeKilledRuns() -> [KilledRuns.Found] {
        KilledRuns.clean(directory)
    }
}
