namespace RagCluster.Storage.GrainLogs;

/// <summary>
/// A write-only stream that keeps what is written as pages of <see cref="PageBytes"/>, so a snapshot is never one
/// array (a .NET array and a PostgreSQL or SQLite value both stop near 2 GB) and is stored as one row per page.
/// MemoryStream cannot pass 2 GB, and no package in our mirror offers a paged one.
/// </summary>
public sealed class PagedWriteStream(int pageBytes = PagedWriteStream.DefaultPageBytes) : Stream
{
    public const int DefaultPageBytes = 4 << 20;
    private readonly List<byte[]> _pages = [];
    private int _used; // bytes used in the last page

    public int PageBytes { get; } = pageBytes > 0 ? pageBytes : throw new ArgumentOutOfRangeException(nameof(pageBytes));

    /// <summary>The pages written so far, the last one cut to its length.</summary>
    public IReadOnlyList<byte[]> Pages =>
        _pages.Count == 0 || _used == PageBytes ? _pages.ToList() : [.. _pages.Take(_pages.Count - 1), _pages[^1].AsSpan(0, _used).ToArray()];

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            if (_pages.Count == 0 || _used == PageBytes)
            {
                _pages.Add(GC.AllocateUninitializedArray<byte>(PageBytes));
                _used = 0;
            }
            var n = Math.Min(buffer.Length, PageBytes - _used);
            buffer[..n].CopyTo(_pages[^1].AsSpan(_used));
            _used += n;
            buffer = buffer[n..];
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void WriteByte(byte value) => Write([value]);
    public override long Length => _pages.Count == 0 ? 0 : (long)(_pages.Count - 1) * PageBytes + _used;
    public override long Position { get => Length; set => throw new NotSupportedException(); }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>Reads pages (as <see cref="PagedWriteStream"/> wrote them) back as one stream.</summary>
public sealed class PagedReadStream(IReadOnlyList<byte[]> pages) : Stream
{
    private int _page;
    private int _offset;
    private long _position;

    public override int Read(Span<byte> buffer)
    {
        var read = 0;
        while (read < buffer.Length && _page < pages.Count)
        {
            var page = pages[_page];
            var n = Math.Min(buffer.Length - read, page.Length - _offset);
            page.AsSpan(_offset, n).CopyTo(buffer[read..]);
            read += n;
            _offset += n;
            if (_offset == page.Length) { _page++; _offset = 0; }
        }
        _position += read;
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public override long Length => pages.Sum(p => (long)p.Length);
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
