/// Where everything a deployment pins lives in bpffs. Every command and step asks this one type,
/// so the layout is written down once:
///
///     <pin-root>/<pipeline>/                  deployment (`deployment(root:name:)`)
///         shared/<map>                        `pin: shared` and LIBBPF_PIN_BY_NAME maps
///         <object>/                           object folder (also `bpfpipe load DIR`)
///             progs/<program>[/<n>]           one pin per instance; `/<n>` when there are several
///             maps/<map>
///             links/<program>[/<n>]           the attach step's links, beside their programs
///             digest                          the object's fingerprint
///         _staging_<pid>/                     a run's staging folder until it swaps in
///             <object>/ ...                   the new objects, laid out as above
///             _previous_<object>/             the previous folder, set aside during the swap
///
/// Names from the object become file names through `PinNames.file` ('.' and anything else bpffs
/// or a path would not take → '_').
public struct PinLayout: Sendable, Equatable {
    /// The folder everything else is below: a deployment, a staging folder, or `load`'s DIR.
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// A pipeline's deployment: `<pin-root>/<name>`.
    public static func deployment(root: String, name: String) -> PinLayout {
        PinLayout(directory: "\(root)/\(name)")
    }

    // MARK: - Folders

    public static let programsFolder = "progs"
    public static let mapsFolder = "maps"
    public static let linksFolder = "links"
    public static let sharedFolder = "shared"
    /// bpffs refuses names with dots, so staging folders are marked with underscores.
    static let stagingPrefix = "_staging_"
    static let previousPrefix = "_previous_"
    /// Where the fingerprint of an object is pinned, beside its progs/, maps/ and links/.
    public static let digestName = "digest"

    /// `pin: shared` and by-name maps: `<deployment>/shared`.
    public var sharedDirectory: String { "\(directory)/\(Self.sharedFolder)" }

    /// An object's folder: `<directory>/<object>`.
    public func objectDirectory(_ object: String) -> String { "\(directory)/\(object)" }

    /// The layout below one object's folder (what `BPFObject.pin(to:)` fills).
    public func object(_ object: String) -> PinLayout { PinLayout(directory: objectDirectory(object)) }

    /// This layout's own `progs/`, `maps/` and `links/` folders (for an object folder).
    public var programsDirectory: String { "\(directory)/\(Self.programsFolder)" }
    public var mapsDirectory: String { "\(directory)/\(Self.mapsFolder)" }
    public var linksDirectory: String { "\(directory)/\(Self.linksFolder)" }

    // MARK: - Pins of one object (self is the object folder)

    /// `progs/<program>` for a single instance, `progs/<program>/<n>` when there are several.
    public func programPin(_ program: String, instance: Int = 0, instanceCount: Int = 1) -> String {
        programsDirectory + "/" + Self.instanceTail(program, instance, instanceCount)
    }

    /// The folder holding a program's per-instance pins (or its one pin).
    public func programBase(_ program: String) -> String { "\(programsDirectory)/\(PinNames.file(program))" }

    /// `links/<program>` or `links/<program>/<n>`, mirroring the program pin.
    public func linkPin(_ program: String, instance: Int = 0, instanceCount: Int = 1) -> String {
        linksDirectory + "/" + Self.instanceTail(program, instance, instanceCount)
    }

    /// The folder holding a program's per-instance links (or its one link).
    public func linkBase(_ program: String) -> String { "\(linksDirectory)/\(PinNames.file(program))" }

    /// `maps/<map>`.
    public func mapPin(_ map: String) -> String { "\(mapsDirectory)/\(PinNames.file(map))" }

    /// `digest`: the object's fingerprint.
    public var digestPin: String { "\(directory)/\(Self.digestName)" }

    // MARK: - Pins of a deployment (self is the deployment)

    /// `shared/<map>`.
    public func sharedMapPin(_ map: String) -> String { Self.byNamePin(map, in: sharedDirectory) }

    /// A by-name map's pin in any by-name folder (libbpf's `pin_root_path/<map>`).
    public static func byNamePin(_ map: String, in directory: String) -> String { "\(directory)/\(PinNames.file(map))" }

    /// The program pin a link pin sits beside (`links/<p>[/<n>]` → `progs/<p>[/<n>]`), or nil when
    /// `linkPin` is not below this layout's `links/`.
    public func programPin(forLink linkPin: String) -> String? {
        guard linkPin.hasPrefix(linksDirectory + "/") else { return nil }
        return programsDirectory + linkPin.dropFirst(linksDirectory.count)
    }

    /// Whether a pin path is a link pin (it lies in some object's `links/` folder).
    public static func isLinkPin(_ path: String) -> Bool { path.contains("/\(linksFolder)/") }

    // MARK: - Staging

    /// The staging folder of the run with process id `pid`.
    public func stagingDirectory(pid: Int32) -> String { "\(directory)/\(Self.stagingPrefix)\(pid)" }

    /// The pid a deployment entry's name marks as a staging folder, or nil when it is not one.
    public static func stagingPID(_ entryName: String) -> Int32? {
        guard entryName.hasPrefix(stagingPrefix), let pid = Int32(entryName.dropFirst(stagingPrefix.count)), pid > 0 else { return nil }
        return pid
    }

    /// Inside a staging folder: where the previous folder of `object` waits during the swap.
    public static func previousFolderName(_ object: String) -> String { previousPrefix + object }

    /// Inside a staging folder: where a failed run moves the new folder of `object` it had
    /// already swapped in, to put the previous one back.
    public static func failedFolderName(_ object: String) -> String { "_failed_" + object }

    /// Inside a killed run's staging folder: where the half-swapped new folder of `object` goes
    /// when the previous one is put back.
    public static func killedFolderName(_ object: String) -> String { "_killed_" + object }

    /// Where a kept by-name map's old pin waits while a recreated map takes its name.
    public static func asidePin(_ pin: String, pid: Int32) -> String { "\(pin)_old_\(pid)" }

    /// The object a staging entry named by `previousFolderName` belongs to, or nil.
    public static func previousObject(_ entryName: String) -> String? {
        entryName.hasPrefix(previousPrefix) ? String(entryName.dropFirst(previousPrefix.count)) : nil
    }

    private static func instanceTail(_ program: String, _ instance: Int, _ count: Int) -> String {
        PinNames.file(program) + (count > 1 ? "/\(instance)" : "")
    }
}
