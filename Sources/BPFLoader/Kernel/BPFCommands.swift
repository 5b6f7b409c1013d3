import CBPFSys

/// Typed wrappers over bpf(2) commands. Each builds a `bpf_attr`, keeps the buffers it points at
/// alive for the duration of the call, and returns an owned fd or an `Errno`.
enum BPFCommand {
    struct MapAttributes {
        var type: UInt32
        var keySize: UInt32
        var valueSize: UInt32
        var maxEntries: UInt32
        var flags: UInt32 = 0
        var name: String = ""
        var innerMapFD: Int32 = 0
        var numaNode: UInt32 = 0
        var btfFD: Int32 = 0
        var btfKeyTypeID: UInt32 = 0
        var btfValueTypeID: UInt32 = 0
        var mapExtra: UInt64 = 0
        /// A struct_ops map's value type in vmlinux BTF (`struct bpf_struct_ops_<name>`).
        var btfVmlinuxValueTypeID: UInt32 = 0
    }

    static func createMap(_ m: MapAttributes) -> Result<FileDescriptor, Errno> {
        var attr = bpf_attr()
        attr.map_type = m.type
        attr.key_size = m.keySize
        attr.value_size = m.valueSize
        attr.max_entries = m.maxEntries
        attr.map_flags = m.flags
        attr.inner_map_fd = UInt32(bitPattern: m.innerMapFD)
        attr.numa_node = m.numaNode
        attr.btf_fd = UInt32(bitPattern: m.btfFD)
        attr.btf_key_type_id = m.btfKeyTypeID
        attr.btf_value_type_id = m.btfValueTypeID
        attr.map_extra = m.mapExtra
        attr.btf_vmlinux_value_type_id = m.btfVmlinuxValueTypeID
        withUnsafeMutableBytes(of: &attr.map_name) { copyName(m.name, into: $0) }
        return sysBPF(BPF_MAP_CREATE, &attr).map(FileDescriptor.init(adopting:))
    }

    static func updateElement(map: FileDescriptor, key: [UInt8], value: [UInt8], flags: UInt64 = 0) -> Result<Void, Errno> {
        key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                var attr = bpf_attr()
                attr.map_fd = UInt32(bitPattern: map.rawValue)
                attr.key = address(k)
                attr.value = address(UnsafeRawBufferPointer(v))
                attr.flags = flags
                return sysBPF(BPF_MAP_UPDATE_ELEM, &attr).map { _ in () }
            }
        }
    }

    static func deleteElement(map: FileDescriptor, key: [UInt8]) -> Result<Void, Errno> {
        key.withUnsafeBytes { k in
            var attr = bpf_attr()
            attr.map_fd = UInt32(bitPattern: map.rawValue)
            attr.key = address(k)
            return sysBPF(BPF_MAP_DELETE_ELEM, &attr).map { _ in () }
        }
    }

    /// Returns nil when the key is absent.
    static func lookupElement(map: FileDescriptor, key: [UInt8], valueSize: Int) -> Result<[UInt8]?, Errno> {
        var value = [UInt8](repeating: 0, count: valueSize)
        let r: Result<Int32, Errno> = key.withUnsafeBytes { k in
            value.withUnsafeMutableBytes { v in
                var attr = bpf_attr()
                attr.map_fd = UInt32(bitPattern: map.rawValue)
                attr.key = address(k)
                attr.value = address(UnsafeRawBufferPointer(v))
                return sysBPF(BPF_MAP_LOOKUP_ELEM, &attr)
            }
        }
        switch r {
        case .success: return .success(value)
        case .failure(let e) where e == .noSuchFile: return .success(nil)
        case .failure(let e): return .failure(e)
        }
    }

    static func freeze(map: FileDescriptor) -> Result<Void, Errno> {
        var attr = bpf_attr()
        attr.map_fd = UInt32(bitPattern: map.rawValue)
        return sysBPF(BPF_MAP_FREEZE, &attr).map { _ in () }
    }

    /// Loads BTF; on failure returns the kernel's BTF verifier log too.
    static func loadBTF(_ blob: [UInt8], logSize: Int = 0) -> Result<FileDescriptor, KernelRejection> {
        var log = [UInt8](repeating: 0, count: logSize)
        let r: Result<Int32, Errno> = blob.withUnsafeBytes { b in
            log.withUnsafeMutableBytes { l in
                var attr = bpf_attr()
                attr.btf = address(b)
                attr.btf_size = UInt32(b.count)
                if logSize > 0 {
                    attr.btf_log_buf = address(UnsafeRawBufferPointer(l))
                    attr.btf_log_size = UInt32(l.count)
                    attr.btf_log_level = 1
                }
                return sysBPF(BPF_BTF_LOAD, &attr)
            }
        }
        return r.map(FileDescriptor.init(adopting:)).mapError { KernelRejection(errno: $0, log: cString(log)) }
    }

    struct ProgramAttributes {
        var type: UInt32
        var instructions: [Instruction]
        var license: String
        var name: String
        var kernelVersion: UInt32 = 0
        var flags: UInt32 = 0
        var expectedAttachType: UInt32 = 0
        var attachBTFID: UInt32 = 0
        var attachFD: Int32 = 0
        var btfFD: Int32 = 0
        var funcInfo: [UInt32] = []      // flattened bpf_func_info records (insn_off, type_id)
        var lineInfo: [UInt32] = []      // flattened bpf_line_info records (insn_off, file, line, col)
        var fdArray: [Int32] = []
    }

    static func loadProgram(_ p: ProgramAttributes, logLevel: UInt32 = 0, logSize: Int = 0) -> Result<FileDescriptor, KernelRejection> {
        var log = [UInt8](repeating: 0, count: logSize)
        let r: Result<Int32, Errno> = p.instructions.withUnsafeBytes { insns in
            p.license.withCString { lic in
                p.funcInfo.withUnsafeBytes { fi in
                    p.lineInfo.withUnsafeBytes { li in
                        p.fdArray.withUnsafeBytes { fda in
                            log.withUnsafeMutableBytes { l in
                                var attr = bpf_attr()
                                attr.prog_type = p.type
                                attr.insn_cnt = UInt32(p.instructions.count)
                                attr.insns = address(insns)
                                attr.license = UInt64(UInt(bitPattern: lic))
                                attr.kern_version = p.kernelVersion
                                attr.prog_flags = p.flags
                                attr.expected_attach_type = p.expectedAttachType
                                attr.attach_btf_id = p.attachBTFID
                                attr.attach_prog_fd = UInt32(bitPattern: p.attachFD)
                                withUnsafeMutableBytes(of: &attr.prog_name) { copyName(p.name, into: $0) }
                                if p.btfFD > 0 {
                                    attr.prog_btf_fd = UInt32(bitPattern: p.btfFD)
                                    if !p.funcInfo.isEmpty {
                                        attr.func_info_rec_size = 8
                                        attr.func_info = address(fi)
                                        attr.func_info_cnt = UInt32(p.funcInfo.count / 2)
                                    }
                                    if !p.lineInfo.isEmpty {
                                        attr.line_info_rec_size = 16
                                        attr.line_info = address(li)
                                        attr.line_info_cnt = UInt32(p.lineInfo.count / 4)
                                    }
                                }
                                if !p.fdArray.isEmpty { attr.fd_array = address(fda) }
                                if logSize > 0 {
                                    attr.log_level = logLevel
                                    attr.log_buf = address(UnsafeRawBufferPointer(l))
                                    attr.log_size = UInt32(l.count)
                                }
                                // The verifier can return EAGAIN when it is interrupted by a signal.
                                var tries = 0
                                while true {
                                    let r = sysBPF(BPF_PROG_LOAD, &attr)
                                    if case .failure(let e) = r, e == .tryAgain, tries < 5 { tries += 1; continue }
                                    return r
                                }
                            }
                        }
                    }
                }
            }
        }
        return r.map(FileDescriptor.init(adopting:)).mapError { KernelRejection(errno: $0, log: cString(log)) }
    }

    static func pin(_ fd: FileDescriptor, at path: String) -> Result<Void, Errno> {
        path.withCString { p in
            var attr = bpf_attr()
            attr.pathname = UInt64(UInt(bitPattern: p))
            attr.bpf_fd = UInt32(bitPattern: fd.rawValue)
            return sysBPF(BPF_OBJ_PIN, &attr).map { _ in () }
        }
    }

    static func get(pinned path: String) -> Result<FileDescriptor, Errno> {
        path.withCString { p in
            var attr = bpf_attr()
            attr.pathname = UInt64(UInt(bitPattern: p))
            return sysBPF(BPF_OBJ_GET, &attr).map(FileDescriptor.init(adopting:))
        }
    }

    static func programInfo(_ fd: FileDescriptor) -> Result<bpf_prog_info, Errno> {
        objectInfo(fd, bpf_prog_info())
    }

    static func mapInfo(_ fd: FileDescriptor) -> Result<bpf_map_info, Errno> {
        objectInfo(fd, bpf_map_info())
    }

    static func objectInfo<T>(_ fd: FileDescriptor, _ initial: T) -> Result<T, Errno> {
        var info = initial
        return withUnsafeMutableBytes(of: &info) { buf in
            var attr = bpf_attr()
            attr.info.bpf_fd = UInt32(bitPattern: fd.rawValue)
            attr.info.info_len = UInt32(buf.count)
            attr.info.info = address(UnsafeRawBufferPointer(buf))
            return sysBPF(BPF_OBJ_GET_INFO_BY_FD, &attr).map { _ in () }
        }.map { info }
    }

    struct TestRunResult: Sendable {
        public var returnValue: UInt32
        public var dataOut: [UInt8]
        public var duration: UInt32
    }

    static func testRun(_ fd: FileDescriptor, data: [UInt8], context: [UInt8]? = nil, repeat count: UInt32 = 1) -> Result<TestRunResult, Errno> {
        var out = [UInt8](repeating: 0, count: data.count + 256)
        let ctx = context ?? []
        return data.withUnsafeBytes { d in
            ctx.withUnsafeBytes { c in
                out.withUnsafeMutableBytes { o in
                    var attr = bpf_attr()
                    attr.test.prog_fd = UInt32(bitPattern: fd.rawValue)
                    if !data.isEmpty {
                        attr.test.data_in = address(d)
                        attr.test.data_size_in = UInt32(d.count)
                        attr.test.data_out = address(UnsafeRawBufferPointer(o))
                        attr.test.data_size_out = UInt32(o.count)
                    }
                    if !ctx.isEmpty {
                        attr.test.ctx_in = address(c)
                        attr.test.ctx_size_in = UInt32(c.count)
                    }
                    attr.test.repeat = count
                    return sysBPF(BPF_PROG_TEST_RUN, &attr).map { _ in
                        TestRunResult(returnValue: attr.test.retval,
                                      dataOut: Array(o.prefix(Int(attr.test.data_size_out))),
                                      duration: attr.test.duration)
                    }
                }
            }
        }
    }
}

/// A kernel refusal with whatever log the kernel wrote.
struct KernelRejection: Error {
    var errno: Errno
    var log: String
}

@inline(__always)
func address(_ buf: UnsafeRawBufferPointer) -> UInt64 {
    UInt64(UInt(bitPattern: buf.baseAddress))
}

/// Copies up to 15 bytes of a name and leaves the NUL the kernel expects.
private func copyName(_ name: String, into buf: UnsafeMutableRawBufferPointer) {
    for (i, b) in name.utf8.prefix(buf.count - 1).enumerated() { buf[i] = b }
}

func cString(_ bytes: [UInt8]) -> String {
    let end = bytes.firstIndex(of: 0) ?? bytes.count
    return String(decoding: bytes[..<end], as: UTF8.self)
}

