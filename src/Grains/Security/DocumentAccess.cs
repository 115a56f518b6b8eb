using RagCluster.Grains.Interfaces.Security;
using RagCluster.Metadata;

namespace RagCluster.Grains.Security;

/// <summary>
/// The wall of document-level access: in a collection with an access field, a read sees only the documents whose
/// field (an array of group names) shares a group with the caller's. Every read path asks here: searches and listings
/// add <see cref="Trim"/> to the caller's filter, so each shard's tag index drops the hidden chunks before ranking;
/// reads by id test the document's tags with <see cref="Sees"/>. A document without the field is visible to no reader.
/// </summary>
public readonly record struct DocumentAccess(FilterTerm? Term, bool Nothing)
{
    /// <summary>No trim: the collection has no access field, or the caller sees every document.</summary>
    public bool Open => Term is null && !Nothing;

    public static DocumentAccess For(string? accessField, ReadAccess? access) =>
        accessField is null || access is { Everything: true } ? default
        : access is not { Groups.Length: > 0 } ? new DocumentAccess(null, true)
        : new DocumentAccess(new ContainsTerm(accessField, access.Groups, All: false), false);

    /// <summary>The caller's filter and the trim, both to hold (null: neither). Not for <see cref="Nothing"/>, which matches no document.</summary>
    public FilterTerm? Trim(FilterTerm? filter) =>
        Nothing ? throw new InvalidOperationException("a caller that sees nothing has no filter to run")
        : Term is null ? filter
        : filter is null ? Term
        : new AllTerm(filter is AllTerm all ? [.. all.Terms, Term] : [filter, Term]);

    /// <summary>Whether a document with these tags is visible (null tags: unknown, so not).</summary>
    public bool Sees(IReadOnlyDictionary<string, string>? tags) => Open || (!Nothing && tags is not null && Term!.Matches(tags));
}
