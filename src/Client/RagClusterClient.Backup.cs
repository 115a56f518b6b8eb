using System.Net.Http.Headers;

namespace RagCluster.Client;

public sealed partial class RagClusterClient
{
    /// <summary>Writes the collection's backup archive (a zip) to <paramref name="destination"/>, streamed.</summary>
    public async Task BackupAsync(string collection, Stream destination, CancellationToken ct = default)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, $"{CollectionPath(collection)}/backup"), ct,
            HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        await response.Content.CopyToAsync(destination, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Restores an archive into the new collection <paramref name="collection"/>. <paramref name="archive"/> must be
    /// seekable if the request may have to be sent again (a 429 or 503): it is rewound for each attempt.
    /// </summary>
    public Task<RestoreReply> RestoreAsync(string collection, Stream archive, CancellationToken ct = default)
    {
        var start = archive.CanSeek ? archive.Position : 0;
        var attempts = 0;
        return ReadAsync<RestoreReply>(() =>
        {
            if (attempts++ > 0)
            {
                if (!archive.CanSeek) throw new InvalidOperationException("the restore was refused for now and the archive stream cannot be rewound to send it again");
                archive.Position = start;
            }
            var content = new StreamContent(new NonClosingStream(archive));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/zip");
            return new HttpRequestMessage(HttpMethod.Post, $"v1/restore/{Segment(collection)}") { Content = content };
        }, ct);
    }

    // The request's content is disposed with the request; the caller's stream is the caller's to close.
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => inner.ReadAsync(buffer, ct);
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
