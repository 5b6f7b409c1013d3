/// How a map's pin is shared, as `LIBBPF_PIN_BY_NAME` in BTF maps or `pinning` in iproute2 maps.
public enum MapPinning: Sendable, Equatable {
    case none
    /// Pinned at `<by-name dir>/<map name>` and reused from there when a compatible map is pinned.
    case byName
}

/// Where an earlier map may be reused from, and what to do when it no longer matches.
public struct MapReuse: Sendable, Equatable {
    public var path: String
    /// On a definition mismatch: create a new map (true) or refuse with the differences (false).
    public var recreateOnMismatch: Bool
    public init(path: String, recreateOnMismatch: Bool) {
        self.path = path
        self.recreateOnMismatch = recreateOnMismatch
    }
}

/// What goes into one slot of a map-in-map or program array when the object is loaded.
public enum MapSlotValue: Sendable, Equatable {
    case map(String)
    case program(String)
}

/// Where a map came from in the object.
public enum MapOrigin: Sendable, Equatable {
    /// A legacy `maps` section record or a BTF-defined `.maps` variable.
    case declared(section: String)
    /// `.data`, `.rodata`, `.bss`, `.data.*`, `.rodata.*`: one-entry array holding the section's bytes.
    case globalData(section: String)
}

/// A map as the object declares it, before anything exists in the kernel. Pipeline overrides
/// (`max-entries`, globals) are applied to these values before maps are created.
public struct MapDefinition: Sendable, Equatable {
    public var name: String
    public var type: UInt32
    public var keySize: UInt32
    public var valueSize: UInt32
    public var maxEntries: UInt32
    public var flags: UInt32
    public var numaNode: UInt32 = 0
    public var mapExtra: UInt64 = 0
    public var pinning: MapPinning = .none
    public var origin: MapOrigin
    /// Set when the object's BTF describes key and value, so the kernel can print and check them.
    public var btfKeyTypeID: UInt32 = 0
    public var btfValueTypeID: UInt32 = 0
    /// The template for the inner maps of a map-in-map.
    public var inner: InnerMap?
    /// Initial contents of a map-in-map or program array, by slot.
    public var slots: [Int: MapSlotValue] = [:]
    /// Initial value of a global-data map (nil for `.bss`: the kernel zeroes arrays).
    public var initialData: [UInt8]?
    /// `.rodata`: frozen after it is written, so the verifier can treat it as constants.
    public var freezeAfterInit: Bool = false
    /// Reuse the map pinned here (a kept map of an earlier deployment) when it is compatible.
    public var reuse: MapReuse?
    /// A `.struct_ops` variable: the kernel ops struct it implements and the programs in it.
    public var structOps: StructOpsDefinition?

    /// Boxed so `MapDefinition` can nest one level without being recursive in storage.
    public final class InnerMap: Sendable, Equatable {
        public let definition: MapDefinition
        init(_ d: MapDefinition) { definition = d }
        public static func == (a: InnerMap, b: InnerMap) -> Bool { a.definition == b.definition }
    }

    public var isGlobalData: Bool {
        if case .globalData = origin { return true }
        return false
    }

    /// The name used for pins and in the kernel (15 characters is the kernel's limit).
    var kernelName: String { sanitizedKernelName(name) }
}

/// Keeps the characters the kernel accepts in object names and the first 15 of them.
func sanitizedKernelName(_ name: String) -> String {
    String(String.UnicodeScalarView(name.unicodeScalars.lazy.map { s in
        (("0"..."9").contains(s) || ("a"..."z").contains(s) || ("A"..."Z").contains(s) || s == "_" || s == ".") ? s : "_"
    }).prefix(15))
}

extension MapDefinition {
    /// The map type as bpftool spells it (`hash`, `array_of_maps`, ...).
    public var typeName: String { MapTypes.name(type) }
}
