import CBPFSys
#if canImport(Glibc)
import Glibc
#endif

/// Creates the kernel maps an object declares, or reuses compatible pinned ones, and fills them
/// with their initial contents. Maps are created in declaration order; slots of map-in-maps are
/// filled once every map exists.
struct MapCreator {
    let spec: ObjectSpec
    let btfFD: FileDescriptor?
    /// Where `pinning: LIBBPF_PIN_BY_NAME` maps are looked up; nil disables reuse.
    let byNameDirectory: String?

    func createAll() throws -> [Map] {
        var maps: [Map] = []
        for def in spec.maps {
            maps.append(try createOrReuse(def))
        }
        try fillMapSlots(maps)
        return maps
    }

    private func createOrReuse(_ def: MapDefinition) throws -> Map {
        if let reuse = reuseCandidate(def) {
            switch BPFCommand.get(pinned: reuse.path) {
            case .success(let fd):
                do {
                    try MapCompatibility.check(existing: fd, against: def, path: reuse.path, object: spec.path)
                    return Map(definition: def, fd: fd, reusedFrom: reuse.path)
                } catch let e as LoaderError where reuse.recreateOnMismatch {
                    // The pipeline asked for a fresh map over a refusal: the old contents go.
                    _ = e
                }
            case .failure(let e) where e == .noSuchFile:
                break
            case .failure(let e):
                throw LoaderError(.relocate, file: spec.path, at: "map '\(def.name)'", "cannot open pinned map \(reuse.path)", errno: e)
            }
        }
        let fd = try create(def)
        let map = Map(definition: def, fd: fd)
        try initialize(map)
        return map
    }

    /// A kept map's earlier pin, or the by-name pin of a `LIBBPF_PIN_BY_NAME` map.
    private func reuseCandidate(_ def: MapDefinition) -> MapReuse? {
        if let r = def.reuse { return r }
        if def.pinning == .byName, let dir = byNameDirectory {
            return MapReuse(path: PinLayout.byNamePin(def.name, in: dir), recreateOnMismatch: false)
        }
        return nil
    }

    func create(_ def: MapDefinition) throws -> FileDescriptor {
        let sizes = MapCreator.kernelSizes(def)
        var attrs = BPFCommand.MapAttributes(type: def.type, keySize: sizes.key, valueSize: sizes.value,
                                             maxEntries: def.maxEntries, flags: def.flags, name: def.kernelName,
                                             numaNode: def.numaNode, mapExtra: def.mapExtra)
        if def.type == BPF_MAP_TYPE_RINGBUF.rawValue || def.type == BPF_MAP_TYPE_USER_RINGBUF.rawValue {
            attrs.maxEntries = MapCreator.ringBufferSize(def.maxEntries)
        }
        if def.type == BPF_MAP_TYPE_PERF_EVENT_ARRAY.rawValue && def.maxEntries == 0 {
            attrs.maxEntries = UInt32(CPUs.possible)
        }
        if def.structOps != nil { return try createStructOps(def, attrs) }
        if MapTypes.isMapInMap(def.type) {
            guard def.inner != nil else {
                // The kernel needs an inner map as a template and would only answer EINVAL.
                throw LoaderError(.relocate, file: spec.path, at: "map '\(def.name)'",
                                  "\(MapTypes.name(def.type)) map has no inner map definition to create it with",
                                  hint: "declare it in '.maps' with __array(values, struct { ... }); legacy 'maps' records cannot name one")
            }
        }
        var inner: FileDescriptor?
        if let innerDef = def.inner?.definition {
            // The kernel only needs an inner map as a template of the shape; it is closed after.
            inner = try create(innerDef)
            attrs.innerMapFD = inner!.rawValue
        }
        defer { _ = inner }
        if let btfFD, def.btfValueTypeID != 0 {
            var withBTF = attrs
            withBTF.btfFD = btfFD.rawValue
            withBTF.btfKeyTypeID = def.btfKeyTypeID
            withBTF.btfValueTypeID = def.btfValueTypeID
            if case .success(let fd) = BPFCommand.createMap(withBTF) { return fd }
            // Some map types refuse BTF for their key or value; libbpf retries without it too.
        }
        switch BPFCommand.createMap(attrs) {
        case .success(let fd): return fd
        case .failure(let e):
            throw LoaderError(.relocate, file: spec.path, at: "map '\(def.name)'",
                              "kernel refused to create \(MapTypes.name(def.type)) map (key \(def.keySize) B, value \(def.valueSize) B, \(def.maxEntries) entries, flags 0x\(String(def.flags, radix: 16)))",
                              errno: e, hint: e == .operationNotPermitted ? "creating maps needs CAP_BPF (or CAP_SYS_ADMIN)" : nil)
        }
    }

    /// Key and value sizes as the kernel is asked for them. Values of fd maps are 4-byte fds (and a
    /// perf event array's keys are CPU indexes): objects often leave these sizes out
    /// (`__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY)` alone, or a legacy map-in-map record), and
    /// cilium/ebpf fills in 4 where they are 0.
    static func kernelSizes(_ def: MapDefinition) -> (key: UInt32, value: UInt32) {
        var (key, value) = (def.keySize, def.valueSize)
        if def.type == BPF_MAP_TYPE_PERF_EVENT_ARRAY.rawValue && key == 0 { key = 4 }
        if (def.type == BPF_MAP_TYPE_PERF_EVENT_ARRAY.rawValue || MapTypes.isMapInMap(def.type)) && value == 0 { value = 4 }
        return (key, value)
    }

    /// The kernel wants a ring buffer's size to be a power of two and a multiple of the page
    /// size; like libbpf, round a size that is not up to the next one that is.
    static func ringBufferSize(_ requested: UInt32) -> UInt32 {
        let page = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 4096))
        var size = max(UInt64(requested), page)
        size = (size + page - 1) / page * page
        var pow2: UInt64 = 1
        while pow2 < size { pow2 <<= 1 }
        return UInt32(truncatingIfNeeded: min(pow2, UInt64(UInt32.max) / 2 + 1))
    }

    /// Writes a global-data map's initial bytes and freezes `.rodata`.
    func initialize(_ map: Map) throws {
        let def = map.definition
        if let data = def.initialData {
            if case .failure(let e) = BPFCommand.updateElement(map: map.fd, key: [0, 0, 0, 0], value: data) {
                throw LoaderError(.relocate, file: spec.path, at: "map '\(def.name)'", "cannot write initial value", errno: e)
            }
        }
        if def.freezeAfterInit, case .failure(let e) = BPFCommand.freeze(map: map.fd) {
            throw LoaderError(.relocate, file: spec.path, at: "map '\(def.name)'", "cannot freeze", errno: e)
        }
    }

    private func fillMapSlots(_ maps: [Map]) throws {
        for map in maps where map.reusedFrom == nil && MapTypes.isMapInMap(map.definition.type) {
            for (slot, value) in map.definition.slots.sorted(by: { $0.key < $1.key }) {
                guard case .map(let name) = value else { continue }
                guard let inner = maps.first(where: { $0.name == name }) else {
                    throw LoaderError(.relocate, file: spec.path, at: "map '\(map.name)' slot \(slot)", "names map '\(name)', which the object does not define")
                }
                let key = [UInt8].le(UInt32(slot))
                if case .failure(let e) = BPFCommand.updateElement(map: map.fd, key: key, value: .le(UInt32(bitPattern: inner.fd.rawValue))) {
                    throw LoaderError(.relocate, file: spec.path, at: "map '\(map.name)' slot \(slot)", "cannot store map '\(name)'", errno: e)
                }
            }
        }
    }
}

/// Checks a pinned map against the definition that wants to reuse it, as libbpf's
/// `map_is_reuse_compat` does, and lists every difference when they disagree.
public enum MapCompatibility {
    static func differences(existing info: bpf_map_info, against def: MapDefinition) -> [String] {
        var diffs: [String] = []
        func cmp<T: Equatable>(_ what: String, _ pinned: T, _ wanted: T) {
            if pinned != wanted { diffs.append("\(what): pinned \(pinned), object wants \(wanted)") }
        }
        cmp("type", MapTypes.name(info.type), MapTypes.name(def.type))
        let sizes = MapCreator.kernelSizes(def)
        cmp("key size", info.key_size, sizes.key)
        cmp("value size", info.value_size, sizes.value)
        if !(def.type == BPF_MAP_TYPE_PERF_EVENT_ARRAY.rawValue && def.maxEntries == 0) {
            cmp("max entries", info.max_entries, def.maxEntries)
        }
        cmp("flags", "0x" + String(info.map_flags, radix: 16), "0x" + String(def.flags, radix: 16))
        cmp("map_extra", info.map_extra, def.mapExtra)
        return diffs
    }

    static func check(existing fd: FileDescriptor, against def: MapDefinition, path: String, object: String) throws {
        let info: bpf_map_info
        switch BPFCommand.mapInfo(fd) {
        case .success(let i): info = i
        case .failure(let e):
            throw LoaderError(.relocate, file: object, at: "map '\(def.name)'", "\(path) is not a map", errno: e)
        }
        let diffs = differences(existing: info, against: def)
        if !diffs.isEmpty {
            throw LoaderError(.relocate, file: object, at: "map '\(def.name)'",
                              "pinned map \(path) is incompatible:\n    " + diffs.joined(separator: "\n    "),
                              hint: "remove the pin (rm \(path)) or change the map definition to match")
        }
    }
}
