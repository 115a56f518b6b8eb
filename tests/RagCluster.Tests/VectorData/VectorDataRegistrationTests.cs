using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.VectorData;
using RagCluster.Client;
using RagCluster.VectorData;
using Note = RagCluster.Tests.Rag.VectorDataConnectorTests.Note;
using Snippet = RagCluster.Tests.Rag.VectorDataConnectorTests.Snippet;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The VectorData connector's registration extensions and argument checks, as the abstraction's conformance suite
/// expects them of every connector (its DependencyInjectionTests, BasicModelTests and EmbeddingGenerationTests). Nothing
/// here reaches an API: the client's address is never called.
/// </summary>
[Trait("Category", "Unit")]
public sealed class VectorDataRegistrationTests
{
    private static readonly Uri Nowhere = new("http://127.0.0.1:9/");

    public static TheoryData<ServiceLifetime, object?> LifetimesAndKeys()
    {
        var data = new TheoryData<ServiceLifetime, object?>();
        foreach (var lifetime in new[] { ServiceLifetime.Singleton, ServiceLifetime.Scoped, ServiceLifetime.Transient })
            foreach (var key in new object?[] { null, "key", 8 }) data.Add(lifetime, key);
        return data;
    }

    [Theory, MemberData(nameof(LifetimesAndKeys))]
    public void The_store_resolves_as_itself_and_as_the_abstraction_with_the_lifetime_asked(ServiceLifetime lifetime, object? key)
    {
        foreach (var register in new Action<IServiceCollection>[]
        {
            s => s.AddKeyedRagClusterVectorStore(key, Nowhere, "k", lifetime: lifetime),
            s => (key is null ? s.AddSingleton(new RagClusterClient(Nowhere)) : s.AddKeyedSingleton(key, new RagClusterClient(Nowhere)))
                  .AddKeyedRagClusterVectorStore(key, lifetime: lifetime),
        })
        {
            var services = new ServiceCollection();
            register(services);
            using var provider = services.BuildServiceProvider();
            Verify<RagClusterVectorStore>(provider, lifetime, key);
            Verify<VectorStore>(provider, lifetime, key);
        }
    }

    [Theory, MemberData(nameof(LifetimesAndKeys))]
    public void A_collection_resolves_as_itself_and_as_each_abstraction_it_implements(ServiceLifetime lifetime, object? key)
    {
        var services = new ServiceCollection().AddKeyedRagClusterCollection<string, Note>(key, "notes", Nowhere, lifetime: lifetime);
        using var provider = services.BuildServiceProvider();
        Verify<RagClusterCollection<string, Note>>(provider, lifetime, key);
        Verify<VectorStoreCollection<string, Note>>(provider, lifetime, key);
        Verify<IVectorSearchable<Note>>(provider, lifetime, key);
        Verify<IKeywordHybridSearchable<Note>>(provider, lifetime, key);
        Assert.Equal("notes", Resolve<VectorStoreCollection<string, Note>>(provider, key).Name);
    }

    [Fact]
    public void Registrations_refuse_a_missing_container_or_collection_name()
    {
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddRagClusterVectorStore(Nowhere));
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddKeyedRagClusterVectorStore("key"));
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddRagClusterCollection<string, Note>("notes"));
        Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddRagClusterCollection<string, Note>(null!, Nowhere));
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddKeyedRagClusterCollection<string, Note>("key", "", Nowhere));
    }

    [Fact]
    public void The_containers_embedding_generator_is_resolved_when_the_collection_is_made_not_when_registered()
    {
        var resolved = 0;
        var services = new ServiceCollection();
        services.AddSingleton<IEmbeddingGenerator>(_ => { resolved++; return new VectorDataConnectorTests.LetterEmbeddings(); });
        services.AddKeyedRagClusterCollection<string, Snippet>("key", "snippets", Nowhere);
        Assert.Equal(0, resolved);
        using var provider = services.BuildServiceProvider();
        var snippets = provider.GetRequiredKeyedService<RagClusterCollection<string, Snippet>>("key");
        Assert.Equal(1, resolved);
        // The generator made it into the collection's model: a text search needs no vector.
        Assert.Throws<NotSupportedException>(() => snippets.SearchAsync("abc", 1, new() { IncludeVectors = true }));
    }

    [Fact]
    public async Task Null_arguments_are_refused_by_their_names_before_any_call()
    {
        using var store = new RagClusterVectorStore(new RagClusterClient(Nowhere));
        var notes = store.GetCollection<string, Note>("notes");
        Assert.Equal("key", (await Assert.ThrowsAsync<ArgumentNullException>(() => notes.GetAsync((string)null!))).ParamName);
        Assert.Equal("keys", Assert.Throws<ArgumentNullException>(() => notes.GetAsync(keys: null!)).ParamName);
        Assert.Equal("records", (await Assert.ThrowsAsync<ArgumentNullException>(() => notes.UpsertAsync(records: null!))).ParamName);
        Assert.Equal("record", (await Assert.ThrowsAsync<ArgumentNullException>(() => notes.UpsertAsync(record: null!))).ParamName);
        Assert.Equal("keys", (await Assert.ThrowsAsync<ArgumentNullException>(() => notes.DeleteAsync(keys: null!))).ParamName);
    }

    [Fact]
    public async Task Vectors_are_not_offered_back_where_the_embedding_generator_makes_them()
    {
        using var store = new RagClusterVectorStore(new RagClusterClient(Nowhere), new() { EmbeddingGenerator = new VectorDataConnectorTests.LetterEmbeddings() });
        var snippets = store.GetCollection<string, Snippet>("snippets");
        const string Expected = "When an embedding generator is configured, `Include Vectors` cannot be enabled.";
        Assert.Equal(Expected, (await Assert.ThrowsAsync<NotSupportedException>(() => snippets.GetAsync("s1", new() { IncludeVectors = true }))).Message);
        Assert.Equal(Expected, Assert.Throws<NotSupportedException>(() => snippets.GetAsync(["s1", "s2"], new() { IncludeVectors = true })).Message);
        Assert.Equal(Expected, Assert.Throws<NotSupportedException>(() => snippets.SearchAsync("abc", 1, new() { IncludeVectors = true })).Message);
        Assert.Equal(Expected, Assert.Throws<NotSupportedException>(() => ((IKeywordHybridSearchable<Snippet>)snippets).HybridSearchAsync("abc", ["a"], 1, new() { IncludeVectors = true })).Message);
        // A collection that holds its vectors gives them back as before: the refusal is for generated ones only.
        var notes = store.GetCollection<string, Note>("notes");
        Assert.NotNull(notes.GetAsync(["n1"], new() { IncludeVectors = true }));
    }

    private static void Verify<T>(ServiceProvider provider, ServiceLifetime lifetime, object? key) where T : class
    {
        T first, second, secondAgain;
        using (var scope = provider.CreateScope()) first = Resolve<T>(scope.ServiceProvider, key);
        using (var scope = provider.CreateScope())
        {
            second = Resolve<T>(scope.ServiceProvider, key);
            secondAgain = Resolve<T>(scope.ServiceProvider, key);
        }
        switch (lifetime)
        {
            case ServiceLifetime.Singleton: Assert.Same(first, second); Assert.Same(second, secondAgain); break;
            case ServiceLifetime.Scoped: Assert.NotSame(first, second); Assert.Same(second, secondAgain); break;
            default: Assert.NotSame(first, second); Assert.NotSame(second, secondAgain); break;
        }
    }

    private static T Resolve<T>(IServiceProvider provider, object? key) where T : notnull =>
        key is null ? provider.GetRequiredService<T>() : provider.GetRequiredKeyedService<T>(key);
}
