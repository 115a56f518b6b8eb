using Microsoft.AspNetCore.Http.HttpResults;

namespace RagCluster.Api.Mcp;

/// <summary>An HTTP problem raised inside a tool: <see cref="ToolGate"/> answers it as a tool error with the same words.</summary>
public sealed class ToolProblem(int status, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;

    public static ToolProblem Of(ProblemHttpResult problem) =>
        new(problem.StatusCode, problem.ProblemDetails.Title ?? "Error", problem.ProblemDetails.Detail ?? "");

    /// <summary>The value of an operation that answers an HTTP endpoint too, or its problem thrown.</summary>
    public static T ValueOf<T>(Results<Ok<T>, ProblemHttpResult> result) => result.Result switch
    {
        Ok<T> { Value: { } value } => value,
        ProblemHttpResult problem => throw Of(problem),
        _ => throw new InvalidOperationException("an operation answered neither a value nor a problem"),
    };

    public static void ThrowIf(ProblemHttpResult? problem)
    {
        if (problem is not null) throw Of(problem);
    }
}
