import CBPFSys
#if canImport(Glibc)
import Glibc
#endif

extension Program {
    /// Attaches loaded instance `instance` to `target` with a BPF link. Errors are
    /// LoaderError(.attach) naming the object, program, instance and target; nothing stays
    /// attached when one is thrown.
    public func attach(_ target: LinkTarget, instance: Int = 0) throws -> BPFLink {
        let location = "program '\(name)' instance \(instance)"
        func fail(_ message: String, _ errno: Errno? = nil, hint: String? = nil) -> LoaderError {
            LoaderError(.attach, file: objectPath, at: location, message, errno: errno, hint: hint, program: name, instance: instance)
        }
        guard isLoaded, instance >= 0, instance < instances.count else {
            throw fail(isLoaded ? "cannot attach to \(target): instance \(instance) is out of range (0..<\(instances.count))"
                                : "cannot attach to \(target): the program is not loaded", .invalidArgument)
        }
        guard let program = instances[instance].fd else {
            throw fail("cannot attach to \(target): the instance was skipped by its preprocessor and has no fd", .noSuchFile)
        }
        let attacher = LinkAttacher(program: program, kind: kind, section: section, fail: fail)
        return BPFLink(fd: try attacher.attach(target), target: target)
    }
}
