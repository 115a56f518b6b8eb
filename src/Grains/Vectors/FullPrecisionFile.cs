using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;

namespace RagCluster.Grains.Vectors;

/// <summary>
/// An int8 index's full-precision vectors, outside the managed heap: float32 rows in a memory-mapped file, as Qdrant
/// keeps its originals on disk. The pages are the operating system's page cache, which it writes back and takes
/// away under memory pressure; the rescoring of a search reads a candidate's row where it is mapped, with no copy and
/// no system call, where it did a pread per candidate (int8 went from 0.97x to 1.27x float's QPS with this and other
/// changes, not measured apart: bench/results, issue 23). Touched rows count in the process's RSS as file pages.
/// The file is unlinked as soon as it is open: it needs no cleanup, and a crash leaves nothing behind. Nothing here
/// is durable: the shard's snapshot holds the vectors, and a load writes them here again. Rows are written and bulk-read
/// with pwrite and pread, so only the rows searches rescore are mapped into the process.
/// </summary>
public sealed unsafe class FullPrecisionFile : IDisposable
{
    // Rows are mapped a segment at a time and a segment is never moved or unmapped while the file is in use, so a row's
    // address stays valid while rows are appended behind it.
    private const int SegmentShift = 14, SegmentRows = 1 << SegmentShift;
    private readonly SafeFileHandle _file;
    private readonly int _dimensions;
    private readonly long _segmentBytes;
    private readonly Lock _growing = new();
    private Segment[] _segments = [];
    // Users of the mapping: the owner's reference (dropped by Dispose) plus one for each read in progress; the last
    // one out unmaps, so a compaction or snapshot still reading on another thread never touches unmapped memory.
    private int _users = 1;
    private int _disposed;

    private sealed record Segment(MemoryMappedFile File, MemoryMappedViewAccessor View, nint Address);

    public FullPrecisionFile(int dimensions, string? directory = null)
    {
        _dimensions = dimensions;
        _segmentBytes = (long)SegmentRows * dimensions * sizeof(float);
        var path = Path.Combine(directory ?? Path.GetTempPath(), $"rc-vectors-{Guid.NewGuid():N}.f32");
        _file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try { File.Delete(path); } // open handles keep it; the space goes when the handle closes (or the process dies)
        catch (IOException) { }
    }

    public void Write(int row, ReadOnlySpan<float> vector)
    {
        if (vector.Length != _dimensions) throw new ArgumentException($"a row has {_dimensions} dimensions, not {vector.Length}");
        using var use = Use();
        var segment = row >> SegmentShift;
        if (segment >= Volatile.Read(ref _segments).Length) Grow(segment);
        // Written with pwrite, not through the mapping: a row written through it stays in the process's RSS (a million
        // int8 vectors added 1.5 KB each), one written to the file is page cache until a search reads it where mapped.
        RandomAccess.Write(_file, System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector), RowOffset(row));
    }

    /// <summary>A copy of a row, read with pread (snapshots, exports and compactions read every row; the mapping would keep them all resident).</summary>
    public void Read(int row, Span<float> into)
    {
        using var use = Use();
        if ((uint)(row >> SegmentShift) >= (uint)Volatile.Read(ref _segments).Length) throw new InvalidOperationException($"full-precision row {row} was never written");
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(into[.._dimensions]);
        if (RandomAccess.Read(_file, bytes, RowOffset(row)) != bytes.Length) throw new InvalidOperationException($"full-precision row {row} was never written");
    }

    private long RowOffset(int row) => (long)row * _dimensions * sizeof(float);

    /// <summary>Holds the mapping open for the reads of <see cref="Row"/> until disposed; refused once the file is disposed.</summary>
    public Lease Use()
    {
        while (true)
        {
            var users = Volatile.Read(ref _users);
            if (users == 0 || Volatile.Read(ref _disposed) != 0) throw new ObjectDisposedException(nameof(FullPrecisionFile));
            if (Interlocked.CompareExchange(ref _users, users + 1, users) == users) return new Lease(this);
        }
    }

    /// <summary>A row's address in the mapping; only under a <see cref="Use"/> lease, and only for rows written.</summary>
    public float* Row(int row)
    {
        if ((uint)(row >> SegmentShift) >= (uint)Volatile.Read(ref _segments).Length)
            throw new InvalidOperationException($"full-precision row {row} was never written");
        return RowAt(row);
    }

    private float* RowAt(int row) =>
        (float*)Volatile.Read(ref _segments)[row >> SegmentShift].Address + (long)(row & (SegmentRows - 1)) * _dimensions;

    private void Grow(int segment)
    {
        lock (_growing)
        {
            var segments = _segments;
            if (segment < segments.Length) return;
            var grown = new Segment[segment + 1];
            segments.CopyTo(grown, 0);
            for (var s = segments.Length; s <= segment; s++)
            {
                // Capacity past the file's length extends it (sparse: blocks are allocated as rows are written).
                var file = MemoryMappedFile.CreateFromFile(_file, null, (s + 1) * _segmentBytes, MemoryMappedFileAccess.ReadWrite,
                    HandleInheritability.None, leaveOpen: true);
                var view = file.CreateViewAccessor(s * _segmentBytes, _segmentBytes, MemoryMappedFileAccess.ReadWrite);
                byte* address = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref address);
                grown[s] = new Segment(file, view, (nint)(address + view.PointerOffset));
            }
            Volatile.Write(ref _segments, grown);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) Release();
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _users) != 0) return;
        foreach (var segment in _segments)
        {
            segment.View.SafeMemoryMappedViewHandle.ReleasePointer();
            segment.View.Dispose();
            segment.File.Dispose();
        }
        _segments = [];
        _file.Dispose();
    }

    public readonly struct Lease(FullPrecisionFile file) : IDisposable
    {
        public void Dispose() => file.Release();
    }
}
