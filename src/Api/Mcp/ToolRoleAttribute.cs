namespace RagCluster.Api.Mcp;

/// <summary>
/// The least role a tool needs (reader when a tool has none), checked by <see cref="ToolGate"/> with the same rule as the
/// HTTP policies. Not ASP.NET's [Authorize]: the MCP SDK's own check answers a refusal with a protocol error in its own
/// words, before any filter of ours could record it in the audit log or say which role was refused.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ToolRoleAttribute(string role) : Attribute
{
    public string Role { get; } = role;
}
