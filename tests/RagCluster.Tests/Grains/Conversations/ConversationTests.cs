using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Follow-up questions over HTTP (issue 75, item 2): a conversation the server keeps (started with "new", read, deleted,
/// never another key's) or history the caller sends, and a follow-up searched with the question before it.
/// </summary>
public sealed class ConversationTests(ConversationApiProcess api) : IClassFixture<ConversationApiProcess>
{
    private RagClusterClient Client => api.Client;

    private async Task PrepareAsync()
    {
        await api.CreateCollection("chat");
        await Client.IngestBatchAsync("chat", [
            new DocumentInput("green") { Text = "Green tea is best brewed at 75 to 80 degrees Celsius." },
            new DocumentInput("black") { Text = "Black tea is brewed with boiling water for four minutes." },
        ]);
        await Client.SettledAsync("chat", ["green", "black"]);
    }

    [Fact]
    public async Task A_kept_conversation_carries_the_question_before_into_the_follow_up_and_is_only_its_keys()
    {
        await PrepareAsync();
        const string first = "At what temperature should green tea be brewed?";
        var started = await Client.AskAsync("chat", new AskRequest(first) { ConversationId = AskRequest.NewConversation });
        Assert.Matches("^c[0-9a-f]{32}$", started.ConversationId);
        Assert.Null(started.SearchedAs); // searched as asked: not echoed
        var id = started.ConversationId!;

        var followUp = await Client.AskAsync("chat", new AskRequest("And black tea?") { ConversationId = id });
        Assert.Equal(id, followUp.ConversationId);
        Assert.Equal(["And black tea?", $"{first} And black tea?"], followUp.SearchedAs);

        // Streamed, the turn is kept before "done", which names the conversation.
        var events = new List<AskEvent>();
        await foreach (var e in Client.AskStreamingAsync("chat", new AskRequest("How long should it steep?") { ConversationId = id })) events.Add(e);
        Assert.Equal(id, Assert.IsType<AskEvent.Done>(events[^1]).Summary.ConversationId);

        var kept = await Client.GetConversationAsync("chat", id);
        Assert.Equal([first, "And black tea?", "How long should it steep?"], kept.Turns.Select(t => t.Question));
        Assert.Equal(followUp.SearchedAs[^1], kept.Turns[1].Standalone);
        Assert.Equal(followUp.Answer, kept.Turns[1].Answer);
        Assert.True(kept.ExpiresAt > DateTimeOffset.UtcNow);

        // Another key of the same tenant sees no such conversation, to read, to follow or to delete.
        var reader = (await Client.CreateKeyAsync(new("reader") { Description = "conversation isolation" })).Key!;
        using (var other = new RagClusterClient(api.Http.BaseAddress!, reader))
        {
            await AssertNotFound(() => other.GetConversationAsync("chat", id));
            await AssertNotFound(() => other.AskAsync("chat", new AskRequest("And black tea?") { ConversationId = id }));
            await AssertNotFound(() => other.DeleteConversationAsync("chat", id));
        }
        Assert.Equal(3, (await Client.GetConversationAsync("chat", id)).Turns.Length);

        // A key whose groups change no longer reaches the conversations it had: their answers quoted what it read then.
        var grouped = await Client.CreateKeyAsync(new("reader") { Description = "conversation groups", Groups = ["tea"] });
        using (var member = new RagClusterClient(api.Http.BaseAddress!, grouped.Key!))
        {
            var its = (await member.AskAsync("chat", new AskRequest(first) { ConversationId = AskRequest.NewConversation })).ConversationId!;
            Assert.Single((await member.GetConversationAsync("chat", its)).Turns);
            await Client.SetKeyGroupsAsync(grouped.KeyId, ["coffee"]);
            async Task<bool> Gone()
            {
                try { await member.GetConversationAsync("chat", its); return false; } // the key's old groups may be cached for a moment
                catch (RagClusterException e) when (e.StatusCode == HttpStatusCode.NotFound) { return true; }
            }
            await Poll.UntilAsync(Gone);
            await Client.SetKeyGroupsAsync(grouped.KeyId, ["tea"]); // and back: the same conversation again, so it was the groups
            await Poll.UntilAsync(async () => !await Gone());
        }

        await Client.DeleteConversationAsync("chat", id);
        await AssertNotFound(() => Client.GetConversationAsync("chat", id));
        await AssertNotFound(() => Client.AskAsync("chat", new AskRequest("And white tea?") { ConversationId = id }));
    }

    [Fact]
    public async Task History_the_caller_keeps_is_bounded_and_an_unknown_conversation_is_a_404()
    {
        await PrepareAsync();
        var withHistory = await Client.AskAsync("chat", new AskRequest("And black tea?") { History = [new("How hot should green tea be?", "75 to 80 degrees.")] });
        Assert.Equal(["And black tea?", "How hot should green tea be? And black tea?"], withHistory.SearchedAs);
        Assert.Null(withHistory.ConversationId);

        var tooLong = await api.Http.PostAsJsonAsync("v1/collections/chat/ask",
            new { question = "And black tea?", history = Enumerable.Range(0, 21).Select(i => new { question = $"q{i}", answer = "a" }) });
        await AssertProblem(tooLong, 400, "at most 20 turns");
        await AssertProblem(await api.Http.PostAsJsonAsync("v1/collections/chat/ask",
            new { question = "And black tea?", conversationId = "new", history = new[] { new { question = "q", answer = "a" } } }), 400, "not both");
        await AssertProblem(await api.Http.PostAsJsonAsync("v1/collections/chat/ask",
            new { question = "And black tea?", history = new[] { new { question = "", answer = "a" } } }), 400, "1..2000");
        await AssertProblem(await api.Http.PostAsJsonAsync("v1/collections/chat/ask",
            new { question = "And black tea?", conversationId = "c" + new string('0', 32) }), 404, "no such conversation");
        await AssertProblem(await api.Http.PostAsJsonAsync("v1/collections/chat/ask", new { question = "And black tea?", conversationId = "not-an-id" }), 404, "no such conversation");
        await AssertProblem(await api.Http.DeleteAsync("v1/collections/chat/conversations/not-an-id"), 404, "no such conversation");
    }

    private static async Task AssertNotFound(Func<Task> call) =>
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<RagClusterException>(call)).StatusCode);

    private static async Task AssertProblem(HttpResponseMessage response, int status, string detail)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(detail, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_conversation_past_its_time_to_live_is_gone()
    {
        await api.CreateCollection("brief");
        var started = await api.Client.AskAsync("brief", new AskRequest("Anything here?") { ConversationId = AskRequest.NewConversation });
        var id = started.ConversationId!;
        // Kept first, with its turn and a time to live of 15 s: a server that kept nothing would read 404 at once too.
        var kept = await api.Client.GetConversationAsync("brief", id);
        Assert.Equal(["Anything here?"], kept.Turns.Select(t => t.Question));
        Assert.InRange((kept.ExpiresAt - DateTimeOffset.UtcNow).TotalSeconds, 1, 16);
        await Poll.UntilAsync(async () =>
        {
            try { await api.Client.GetConversationAsync("brief", id); return false; }
            catch (RagClusterException e) when (e.StatusCode == HttpStatusCode.NotFound) { return true; }
        }, 60);
        Assert.True(DateTimeOffset.UtcNow >= kept.ExpiresAt - TimeSpan.FromSeconds(1), $"gone before its time ({kept.ExpiresAt:O})");
        var late = await api.Http.PostAsJsonAsync("v1/collections/brief/ask", new { question = "And now?", conversationId = id });
        Assert.Equal(HttpStatusCode.NotFound, late.StatusCode);
    }
}

/// <summary>The API with conversations kept 15 s after their last turn: long beside a test's turns, short enough to see one expire.</summary>
public sealed class ConversationApiProcess : ApiProcess
{
    protected override string[] ExtraArgs => ["--Conversations:TtlSeconds", "15"];
}
