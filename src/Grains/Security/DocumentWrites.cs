using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Security;

/// <summary>
/// The access wall on writes: a write that would replace, re-tag or delete a document its caller cannot see
/// (<see cref="DocumentAccess"/>) changes nothing. It is checked where a document's present tags are held, in its grain
/// and, for one written in bulk, in its collection's registry, so every door (HTTP, MCP, the CLI, the VectorData
/// connector through the client) gets it by naming the caller.
/// </summary>
public static class DocumentWrites
{
    /// <summary>Whether <paramref name="caller"/> may change a document now tagged <paramref name="tags"/> (null caller: the cluster's own write).</summary>
    public static bool Allowed(string? accessField, ReadAccess? caller, IReadOnlyDictionary<string, string>? tags) =>
        caller is null || DocumentAccess.For(accessField, caller).Sees(tags);

    /// <summary>
    /// The refusal of a new document under a hidden document's id: a conflict that says only that the id is taken, not by
    /// what or whose (a 404 would be a lie, a 403 would say more).
    /// </summary>
    public static ConflictException Taken(string documentId) =>
        new($"document id '{documentId}' is taken; nothing was stored (send it under another id)");
}
