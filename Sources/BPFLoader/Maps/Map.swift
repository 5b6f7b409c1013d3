/// A map that exists in the kernel: created by this object, or reused from a pin.
public final class Map: Sendable {
    public let definition: MapDefinition
    public let fd: FileDescriptor
    /// Where the map was found pinned and reused from, if it was.
    public let reusedFrom: String?

    init(definition: MapDefinition, fd: FileDescriptor, reusedFrom: String? = nil) {
        self.definition = definition
        self.fd = fd
        self.reusedFrom = reusedFrom
    }

    public var name: String { definition.name }

    /// Reads one value; nil when the key is absent.
    public func lookup(key: [UInt8]) throws -> [UInt8]? {
        try BPFCommand.lookupElement(map: fd, key: key, valueSize: valueBufferSize).get()
    }

    public func update(key: [UInt8], value: [UInt8], flags: UInt64 = 0) throws {
        try BPFCommand.updateElement(map: fd, key: key, value: value, flags: flags).get()
    }

    /// Per-CPU maps return one value slot (rounded up to 8 bytes) per possible CPU.
    var valueBufferSize: Int {
        // The size the map was created with, which fills in fd maps' sizes the object left out.
        let valueSize = Int(MapCreator.kernelSizes(definition).value)
        if MapTypes.isPerCPU(definition.type) {
            return ((valueSize + 7) / 8 * 8) * CPUs.possible
        }
        return valueSize
    }

    /// The kernel's id for the map.
    public var id: UInt32 { (try? BPFCommand.mapInfo(fd).get().id) ?? 0 }
}
