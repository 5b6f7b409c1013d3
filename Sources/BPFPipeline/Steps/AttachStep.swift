import BPFLoader

/// One link a run made (or updated in place), for the log and the report.
public struct AttachedLink: Sendable, Codable, Equatable {
    public var object: String
    public var program: String
    public var instance: Int
    /// How the target is named in logs: "tracepoint syscalls/sys_enter_getpid".
    public var target: String
    public var linkID: UInt32
    public var programID: UInt32
    /// The link's pin in the deployment (where it is after the swap).
    public var pin: String
    /// The previous deployment's link, given the new program with BPF_LINK_UPDATE.
    public var updatedInPlace: Bool
}

/// The attach step: after every object is pinned in the staging folder and before anything is
/// swapped in, attaches each loaded instance to its target and pins the link beside the object's
/// pins (`<object>/links/<program>` or `.../links/<program>/<n>`), so the links are swapped in with
/// the pins and are never attached without them.
///
/// New links attach while the previous deployment's are still attached: both run for a moment,
/// so no event is missed. Where a link can swap its program in place (xdp, cgroup, tcx: an
/// interface takes one XDP link, so a second could not attach anyway) the previous deployment's
/// link is updated instead and pinned again in the staging folder.
///
/// A class: it remembers what it did so that `undo()` can take it back when anything later fails.
final class AttachStep {
    let layout: PinLayout
    /// Fault injection for tests: called after each instance is attached and its link pinned.
    var fault: ((_ object: String, _ program: String, _ instance: Int) throws -> Void)?

    /// Every link this run opened; closing them (with their staging pins gone) detaches.
    private var links: [BPFLink] = []
    /// Links of the previous deployment given a new program, with the program they had.
    private var updated: [(link: BPFLink, previous: FileDescriptor)] = []
    private(set) var attached: [AttachedLink] = []

    init(layout: PinLayout) {
        self.layout = layout
    }

    /// Attaches every instance of `objects` that has a target; the objects are pinned under
    /// `staging/<object>`. `log` is told of each link as it is made.
    func attach(_ objects: [(entry: ObjectEntry, object: BPFObject)], staging: String, log: (AttachedLink) -> Void) throws {
        for (entry, obj) in objects {
            for p in obj.programs where p.isLoaded {
                let attach = entry.programs[p.name]?.attach ?? .fromSection
                for inst in p.instances where inst.fd != nil {
                    guard let target = Self.target(of: p, instance: inst.index, attach) else { continue }
                    let final = layout.object(entry.name)
                    let stagingPin = PinLayout(directory: staging).object(entry.name).linkPin(p.name, instance: inst.index, instanceCount: p.instanceCount)
                    _ = try BPFFS.makeDirectories(Paths.directory(of: stagingPin), step: .attach)
                    let previous = (link: final.linkPin(p.name, instance: inst.index, instanceCount: p.instanceCount),
                                    program: final.programPin(p.name, instance: inst.index, instanceCount: p.instanceCount))
                    let (link, inPlace): (BPFLink, Bool)
                    do {
                        (link, inPlace) = try self.link(p, inst.index, target, previous: previous)
                    } catch var error as LoaderError {
                        // The object file is a build-cache path; the pipeline's object name is what the user wrote.
                        error.location = (error.location ?? "program '\(p.name)' instance \(inst.index)") + " of object '\(entry.name)'"
                        error.object = entry.name
                        throw error.about(program: p.name, instance: inst.index)
                    }
                    do {
                        try link.pin(at: stagingPin)
                    } catch var error as LoaderError {
                        if error.file == nil { error.file = obj.path }
                        throw error
                    }
                    let info = try link.info()
                    let made = AttachedLink(object: entry.name, program: p.name, instance: inst.index, target: "\(target)",
                                            linkID: info.id, programID: info.programID, pin: previous.link,
                                            updatedInPlace: inPlace)
                    attached.append(made)
                    log(made)
                    try fault?(entry.name, p.name, inst.index)
                }
            }
        }
    }

    /// A new link, or the previous deployment's one given the new program where that works.
    private func link(_ p: Program, _ instance: Int, _ target: LinkTarget, previous pins: (link: String, program: String)) throws -> (BPFLink, Bool) {
        if target.supportsInPlaceUpdate, Paths.exists(pins.link), let old = try? BPFLink.openPinned(pins.link),
           old.isAttached(to: target) == true, let previous = previousProgram(of: old, programPin: pins.program),
           let fd = p.instances[instance].fd, (try? old.update(program: fd)) != nil {
            // The old link keeps its interface or cgroup; only its program changes, with no gap.
            links.append(old)
            updated.append((old, previous))
            return (old, true)
        }
        let link = try p.attach(target, instance: instance)
        links.append(link)
        return (link, false)
    }

    /// The previous deployment's program behind an old link: the program pin beside it
    /// (`links/<p>[/<n>]` ↔ `progs/<p>[/<n>]`) when it is the one the link runs. Without it the
    /// link could not be put back on failure, so it is not updated in place.
    private func previousProgram(of link: BPFLink, programPin: String) -> FileDescriptor? {
        guard let info = try? link.info(), let fd = try? BPFFS.openPinned(programPin),
              let prog = try? ProgramKernelInfo(fd: fd), prog.id == info.programID else { return nil }
        return fd
    }

    /// Takes back what this run did: every updated link gets its previous program again, and every
    /// link fd is closed (the staging pins are removed by the pin step, which detaches the new ones).
    func undo() {
        for u in updated.reversed() { try? u.link.update(program: u.previous) }
        // xdp, tcx and cgroup links detach at once (BPF_LINK_DETACH) rather than when bpffs lets
        // go of the removed pin; the kernel refuses it for the others, which go with the pin.
        for link in links where !updated.contains(where: { $0.link === link }) { try? link.detach() }
        updated.removeAll()
        links.removeAll()
    }

    /// After a successful swap the pins hold the links; the fds are not needed any more.
    func finish() {
        updated.removeAll()
        links.removeAll()
    }

    /// The target of instance `n`: the one written in the file, the one its section names, or none.
    static func target(of p: Program, instance n: Int, _ attach: ProgramAttach) -> LinkTarget? {
        switch attach {
        case .never: return nil
        case .fromSection: return p.autoAttachTarget
        case .targets: return attach.entry(forInstance: n).map { linkTarget($0.kind) }
        }
    }

    static func linkTarget(_ kind: AttachEntry.Kind) -> LinkTarget {
        switch kind {
        case .uprobe(let binary, let function, let offset, let pid, let isReturn):
            .uprobe(UprobeTarget(binary: binary, function: function, offset: offset, pid: pid, isReturn: isReturn))
        case .kprobe(let function, let offset, let isReturn): .kprobe(function: function, offset: offset, isReturn: isReturn)
        case .tracepoint(let category, let name): .tracepoint(category: category, name: name)
        case .rawTracepoint(let name): .rawTracepoint(name: name)
        case .xdp(let interface, let mode): .xdp(interface: interface, mode: XDPMode(rawValue: mode.rawValue) ?? .auto)
        case .tc(let interface, let direction): .tcx(interface: interface, direction: TCDirection(rawValue: direction.rawValue) ?? .ingress)
        case .cgroup(let path, let attachType): .cgroup(path: path, attachType: attachType)
        }
    }
}
