using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace RagCluster.Grains.Vectors;

/// <summary>
/// An int8 index's full-precision vectors, outside the managed heap and outside the process's resident memory: float32
/// rows in a file read and written at offsets (pread/pwrite), so they live in the operating system's page cache,
/// which gives them back under memory pressure, as Qdrant keeps its originals on disk. The file is unlinked as soon as
/// it is open: it needs no cleanup, and a crash leaves nothing behind. Nothing here is durable: the shard's snapshot
/// holds the vectors, and a load writes them here again.
/// </summary>
public sealed class FullPrecisionFile : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly int _rowBytes;

    public FullPrecisionFile(int dimensions, string? directory = null)
    {
        _rowBytes = dimensions * sizeof(float);
        var path = Path.Combine(directory ?? Path.GetTempPath(), $"rc-vectors-{Guid.NewGuid():N}.f32");
        _file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try { File.Delete(path); } // open handles keep it; the space goes when the handle closes (or the process dies)
        catch (IOException) { }
    }

    public void Write(int row, ReadOnlySpan<float> vector) => RandomAccess.Write(_file, MemoryMarshal.AsBytes(vector), (long)row * _rowBytes);

    public void Read(int row, Span<float> into)
    {
        var bytes = MemoryMarshal.AsBytes(into);
        var offset = (long)row * _rowBytes;
        while (bytes.Length > 0)
        {
            var n = RandomAccess.Read(_file, bytes, offset);
            if (n == 0) throw new InvalidOperationException($"full-precision row {row} was never written");
            bytes = bytes[n..];
            offset += n;
        }
    }

    public void Dispose() => _file.Dispose();
}
