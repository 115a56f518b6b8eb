using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;

namespace RagCluster.Client;

public sealed partial class RagClusterClient
{
    public Task<SearchReply> SearchAsync(string collection, SearchRequest request, CancellationToken ct = default) =>
        SendJsonAsync<SearchReply>(HttpMethod.Post, $"{CollectionPath(collection)}/search", request, ct);

    /// <summary>An answer with its citations, whole.</summary>
    public Task<AskReply> AskAsync(string collection, AskRequest request, CancellationToken ct = default) =>
        SendJsonAsync<AskReply>(HttpMethod.Post, $"{CollectionPath(collection)}/ask", request, ct);

    /// <summary>An answer as it is produced (server-sent events): tokens, then the citations, then a summary.</summary>
    public async IAsyncEnumerable<AskEvent> AskStreamingAsync(string collection, AskRequest request,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        var body = new { request.Question, request.TopK, request.Filter, request.ConversationId, request.History, stream = true };
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"{CollectionPath(collection)}/ask")
        {
            Content = JsonContent.Create(body, options: Json),
        }, ct, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(ct).ConfigureAwait(false))
        {
            AskEvent? evt = item.EventType switch
            {
                "token" => new AskEvent.Token(JsonSerializer.Deserialize<string>(item.Data, Json) ?? ""),
                "citations" => new AskEvent.Citations(JsonSerializer.Deserialize<CitationReply[]>(item.Data, Json) ?? []),
                "done" => new AskEvent.Done(JsonSerializer.Deserialize<AskDone>(item.Data, Json)!),
                _ => null, // an event a newer server sends: skipped
            };
            if (evt is not null) yield return evt;
            if (evt is AskEvent.Done) yield break;
        }
    }

    /// <summary>A conversation this key started in the collection.</summary>
    public Task<ConversationReply> GetConversationAsync(string collection, string conversationId, CancellationToken ct = default) =>
        SendJsonAsync<ConversationReply>(HttpMethod.Get, $"{CollectionPath(collection)}/conversations/{Segment(conversationId)}", null, ct);

    /// <summary>Forgets a conversation this key started (a 404 when there is none).</summary>
    public Task DeleteConversationAsync(string collection, string conversationId, CancellationToken ct = default) =>
        SendNoContentAsync(HttpMethod.Delete, $"{CollectionPath(collection)}/conversations/{Segment(conversationId)}", ct);
}
