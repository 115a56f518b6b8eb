using Orleans.Concurrency;

namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>
/// Key: "tenant.collection" (see TenantScope). The collection's public face: settings, counts, the version that cache
/// keys include, its listing, creation, changes and deletion. What document grains, bulk writers and restores say to it
/// is in <see cref="ICollectionRegistryGrain"/> and <see cref="ICollectionRestoreGrain"/>, the same grain behind each.
/// A collection exists once created (or, for data from before explicit creation, once it indexed a document).
/// </summary>
[Alias("rc.ICollectionGrain")]
public interface ICollectionGrain : IGrainWithStringKey
{
    // The reads interleave: they return what the activation holds (what storage confirmed), so a search never waits
    // behind a sweep or a registry write.
    /// <summary>Settings, version and counts: held in memory, so it costs the same at any size (every search asks).</summary>
    [AlwaysInterleave]
    Task<CollectionInfo> GetInfo();
    /// <summary>Just the settings: what every indexing pass needs.</summary>
    [AlwaysInterleave]
    Task<CollectionSettings> GetSettings();
    /// <summary>Created and not yet dropped (true while a delete runs, so the delete can be repeated).</summary>
    [AlwaysInterleave]
    Task<bool> Exists();
    /// <summary>A delete has begun and not yet finished.</summary>
    [AlwaysInterleave]
    Task<bool> IsDeleting();
    /// <summary>Registered documents with ids after <paramref name="after"/> (null: from the first), in the store's key order.</summary>
    [AlwaysInterleave]
    Task<DocumentPage> ListDocuments(string? after, int limit);
    /// <summary>Creates the collection with these settings; a conflict if it exists.</summary>
    Task<CollectionSettings> Create(CollectionSettings settings);
    /// <summary>
    /// Changes settings. A new shard count on a collection with documents starts an online reshard (see
    /// <see cref="CollectionInfo.Resharding"/>): the returned settings still name the serving count until it ends.
    /// </summary>
    Task<CollectionSettings> Configure(CollectionSettings settings);
    /// <summary>Asks a reshard in progress to go on (it also resumes by itself on activation and on a reminder).</summary>
    Task ResumeResharding();
    /// <summary>The first step of deleting a collection: from now on no document may register (stored before it returns).</summary>
    Task BeginDelete();
    /// <summary>
    /// The last step of deleting a collection, once its documents are deleted: it stops existing (its version moves
    /// on, so cached answers are dead) and the name is free again. A conflict while documents remain.
    /// </summary>
    Task Drop();
}
