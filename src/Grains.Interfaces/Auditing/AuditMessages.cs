namespace RagCluster.Grains.Interfaces.Auditing;

// Wire and stored types: Orleans serializers are generated for them; primary-constructor members get ids in
// declaration order, so new members go at the end. [Alias] keeps stored state readable across renames and moves.
// [Immutable]: values never changed after they are sent, so Orleans skips the defensive copy on local calls.

/// <summary>One audited request: the caller (key id, tenant, role), the action (method and route), its target and outcome.</summary>
[GenerateSerializer, Immutable, Alias("rc.AuditEntry")]
public sealed record AuditEntry(DateTimeOffset At, string? KeyId, string? Tenant, string? Role, string Action, string Target,
    int Status, string? RemoteAddress);

[GenerateSerializer, Immutable, Alias("rc.AuditQuery")]
public sealed record AuditQuery(DateTimeOffset From, DateTimeOffset To, string? Tenant, string? KeyId, int Limit);
