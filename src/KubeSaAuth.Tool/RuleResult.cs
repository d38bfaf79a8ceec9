// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Tokens;

namespace KubeSaAuth.Tool;

/// <summary>One rule's verdict.</summary>
internal sealed record RuleResult(string Rule, RuleStatus Status, string Detail, KubernetesTokenFailureReason? Reason = null);
