namespace RagCluster.Storage.GrainLogs;

/// <summary>Reads a snapshot's pages (as <see cref="SnapshotPipe"/> cut them) back as one stream.</summary>
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
