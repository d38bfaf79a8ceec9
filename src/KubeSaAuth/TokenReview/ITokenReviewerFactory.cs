// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using KubeSaAuth.Schemes;
using KubeSaAuth.Tokens;

namespace KubeSaAuth.TokenReview;

/// <summary>Creates the TokenReview step of a scheme, or <see langword="null"/> when it is off.</summary>
internal interface ITokenReviewerFactory
{
    ITokenReviewer? Create(string name, KubernetesServiceAccountOptions options);
}
