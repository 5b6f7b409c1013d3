/// Where and how an object's kernel resources are created.
public struct LoadOptions: Sendable {
    /// Where maps declared `pinning: LIBBPF_PIN_BY_NAME` are reused from and pinned to; nil turns
    /// that off.
    public var pinMapsByNameDirectory: String? = BPFFS.defaultMountPoint
    /// What CO-RE relocations resolve against; nil means the running kernel's BTF.
    public var coreTarget: CORETarget? = nil
    /// Register each `.struct_ops` map's ops with its subsystem once its programs load, as
    /// `bpftool struct_ops register` (libbpf's `bpf_map__attach_struct_ops`) does. Off by default,
    /// like libbpf's and `bpftool prog loadall`'s load, because a registered ops outlives the
    /// loader: the subsystem holds the map, so closing fds and removing pins leave it registered
    /// until `unload()` (or `bpftool struct_ops unregister`); and deliberately incomplete ops
    /// (which only a registration checks) still load.
    public var registerStructOps = false
    /// How many programs and instances load at once (`BPF_PROG_LOAD` on that many threads);
    /// at least 1. Defaults to the number of online CPUs.
    public var jobs: Int = OrderedPool<Void>.onlineCPUs
    public init() {}
}

/// An opened BPF object on its way into the kernel: relocate → preprocess → load, each callable on
/// its own or all at once with `load()`. Owns every fd it creates; `unload()` or deinit closes them.
public final class BPFObject {
    public internal(set) var spec: ObjectSpec
    public let programs: [Program]
    public private(set) var maps: [Map] = []
    public private(set) var btfFD: FileDescriptor?
    /// Per-instance copies of global-data maps (see `instanceCopy(of:setTo:)`).
    var instanceMaps: [Map] = []
    /// By-name pins this object made for maps it created; removed again if the load fails.
    public private(set) var newByNamePins: [String] = []
    /// By-name pins of recreated maps: the new map's pin, and where the old pin was set aside
    /// until the deployment is committed (so a failed run can put the old map back).
    var replacedByNamePins: [(pin: String, aside: String)] = []
    /// Things that did not stop the load but that a user may want to know (BTF refused, ...).
    public private(set) var warnings: [String] = []
    public var options: LoadOptions
    /// `.struct_ops` maps this object registered; `unload()` unregisters them.
    var registeredStructOps: [Map] = []
    /// The object's BTF with the fix-ups the kernel needs, made once per object.
    private var kernelBTF: BTF?

    public init(spec: ObjectSpec, options: LoadOptions = LoadOptions()) {
        self.spec = spec
        self.options = options
        self.programs = spec.programs.map { Program(spec: $0, objectPath: spec.path) }
    }

    public static func open(path: String, options: LoadOptions = LoadOptions()) throws -> BPFObject {
        BPFObject(spec: try ObjectSpec.open(path: path), options: options)
    }

    public var name: String { spec.name }
    public var path: String { spec.path }

    public func program(named name: String) -> Program? { programs.first { $0.name == name } }

    /// Changes a map's definition before maps are created (pipeline `max-entries`, `pin`).
    public func updateMapDefinition(_ name: String, _ change: (inout MapDefinition) -> Void) throws {
        guard maps.isEmpty else {
            throw LoaderError(.relocate, file: path, at: "map '\(name)'", "maps already exist; change definitions before relocation")
        }
        guard let i = spec.maps.firstIndex(where: { $0.name == name }) else {
            throw LoaderError(.open, file: path, at: "map '\(name)'", "no such map; the object has: \(spec.maps.map(\.name).joined(separator: ", "))")
        }
        change(&spec.maps[i])
    }

    /// Sets a global variable's initial value before maps are created.
    public func setGlobal(_ name: String, to value: GlobalLiteral) throws {
        guard maps.isEmpty else {
            throw LoaderError(.relocate, file: path, at: "global '\(name)'", "maps already exist; set globals before relocation")
        }
        try spec.setGlobal(name, to: value)
    }
    public func map(named name: String) -> Map? { maps.first { $0.name == name } }

    /// Loads BTF, creates (or reuses) maps and links every program. With `createMaps: false`
    /// nothing touches the kernel and each map reference in the code holds the map's index in
    /// `spec.maps` instead of an fd: enough to plan, inspect and disassemble (`map[name]`).
    public func relocate(createMaps: Bool = true) throws {
        if let btf = spec.btf, kernelBTF == nil {
            kernelBTF = btf.fixingDatasecs(
                sectionSize: { name in self.spec.elf.section(named: name)?.size },
                symbolOffset: { name in self.spec.elf.symbols.first { $0.name == name && $0.isObject }.map { UInt32(truncatingIfNeeded: $0.value) } }
            ).sanitizedForKernel()
            .makingStatic(functionsNamed: Set(spec.elf.symbols.filter { $0.isFunction && $0.isGlobal && $0.visibility == 2 /* STV_HIDDEN */ }.map(\.name)))
        }
        let externs = ExternResolver(spec: spec, kernelReadyBTF: kernelBTF)
        if let i = spec.maps.firstIndex(where: { $0.origin == .globalData(section: kconfigSectionName) }),
           let btf = kernelBTF, let layout = btf.datasec(named: kconfigSectionName) {
            spec.maps[i].initialData = try KconfigData.bytes(layout: layout, size: Int(spec.maps[i].valueSize), btf: btf, spec: spec)
            spec.maps[i].btfValueTypeID = layout.id
        }
        try resolveStructOps()
        if createMaps {
            if let btf = kernelBTF, btfFD == nil {
                switch BPFCommand.loadBTF(btf.rawBytes) {
                case .success(let fd): btfFD = fd
                case .failure(let first):
                    var detail = ""
                    if case .failure(let r) = BPFCommand.loadBTF(btf.rawBytes, logSize: 1 << 20) {
                        detail = ": " + (r.log.split(separator: "\n").last.map(String.init) ?? "")
                    }
                    warnings.append("kernel refused the object's BTF (\(first.errno)); loading without it\(detail)")
                }
            }
            maps = try MapCreator(spec: spec, btfFD: btfFD, byNameDirectory: options.pinMapsByNameDirectory).createAll()
            (newByNamePins, replacedByNamePins) = try pinNewByNameMaps()
        }
        let fds = maps.map(\.fd.rawValue)
        let linker = Linker(spec: spec, mapFD: { createMaps ? fds[$0] : Int32($0) }, coreTarget: options.coreTarget, externs: externs)
        for p in programs where p.autoload {
            p.linked = try linker.link(p.spec)
        }
    }

    /// Produces every instance of every program through its preprocessor.
    public func preprocess() throws {
        for p in programs where p.autoload {
            try p.preprocess(objectName: name)
        }
    }

    /// Loads every instance of every program, then fills program arrays.
    ///
    /// Instances load on up to `jobs` threads (default `options.jobs`), in program order then
    /// instance order. `observer` hears of each loaded instance, with how long its
    /// `BPF_PROG_LOAD` took, on the calling thread and in that same order whatever order the
    /// loads finish in (it may run while later instances are still loading); an error it throws
    /// fails the load like a kernel refusal would. On the first failure in that order, nothing
    /// more starts, running loads are waited for, and every fd this call made is closed.
    public func loadPrograms(jobs: Int? = nil,
                             observer: ((_ program: Program, _ instance: Int, _ fd: FileDescriptor, _ nanoseconds: UInt64) throws -> Void)? = nil) throws {
        do {
            // One entry per instance to load; a program that cannot load at all (unknown type,
            // ...) is one failing entry in its place, so errors come in the order a serial load
            // would meet them.
            var work: [(program: Program, instance: Int, request: Result<ProgramLoadRequest, LoaderError>)] = []
            for p in programs where p.autoload {
                do {
                    for r in try p.loadRequests(license: spec.license, kernelVersion: spec.kernelVersion, btfFD: btfFD) {
                        work.append((p, r.instance, .success(r.request)))
                    }
                } catch let e as LoaderError {
                    work.append((p, 0, .failure(e)))
                }
            }
            let requests = work.map(\.request)
            let btf = kernelBTF
            try OrderedPool<(FileDescriptor, UInt64)>.run(count: work.count, jobs: jobs ?? options.jobs, work: { i in
                Result {
                    let request = try requests[i].get()
                    let start = MonotonicClock.nanoseconds()
                    let fd = try request.load(btf: btf)
                    return (fd, MonotonicClock.nanoseconds() - start)
                }
            }, consume: { i, result in
                let (p, n) = (work[i].program, work[i].instance)
                if case .failure(let e) = requests[i] { throw e }  // already placed in its program
                do {
                    let (fd, ns) = try result.get()
                    p.adopt(fd, instance: n)
                    try observer?(p, n, fd, ns)
                } catch let e as LoaderError {
                    throw p.locate(e, instance: n)
                }
            })
            for p in programs where p.autoload { p.finishLoad() }
            try fillProgramArrays()
            try registerStructOps()
        } catch {
            unload()
            throw error
        }
    }

    /// relocate → preprocess → load. On failure nothing of this object stays in the kernel or
    /// in bpffs.
    public func load() throws {
        do {
            try relocate()
            try preprocess()
            try loadPrograms()
        } catch {
            removeNewByNamePins()
            unload()
            throw error
        }
    }

    /// Undoes the by-name pins this object made (for a run that failed after relocation), and
    /// puts back the pins of maps it replaced.
    public func removeNewByNamePins() {
        BPFObject.undoByNamePins(made: newByNamePins, replaced: replacedByNamePins)
        newByNamePins = []
        replacedByNamePins = []
    }

    /// Makes the by-name pins final: the old pins of replaced maps are dropped. `pin(to:)` does it
    /// unless told not to (a pipeline run commits only after its swap).
    public func commitNewByNamePins() {
        for r in replacedByNamePins { BPFFS.remove(r.aside) }
        newByNamePins = []
        replacedByNamePins = []
    }

    /// Unregisters the struct_ops it registered, then closes every program instance, map and the BTF fd.
    public func unload() {
        unregisterStructOps()
        for p in programs { p.unload() }
        maps = []
        instanceMaps = []
        btfFD = nil
    }

    private func fillProgramArrays() throws {
        for map in maps where map.reusedFrom == nil && MapTypes.isProgramArray(map.definition.type) {
            for (slot, value) in map.definition.slots.sorted(by: { $0.key < $1.key }) {
                guard case .program(let name) = value else { continue }
                guard let prog = program(named: name), prog.isLoaded else {
                    throw LoaderError(.load, file: path, at: "map '\(map.name)' slot \(slot)", "names program '\(name)', which is not loaded")
                }
                let fd = try prog.fd()
                if case .failure(let e) = BPFCommand.updateElement(map: map.fd, key: .le(UInt32(slot)), value: .le(UInt32(bitPattern: fd.rawValue))) {
                    throw LoaderError(.load, file: path, at: "map '\(map.name)' slot \(slot)", "cannot store program '\(name)'", errno: e)
                }
            }
        }
    }
}
