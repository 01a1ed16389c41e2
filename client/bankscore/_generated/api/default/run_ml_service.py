from http import HTTPStatus
from typing import Any

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error_response import ErrorResponse
from ...models.service_input import ServiceInput
from ...models.service_output import ServiceOutput
from ...types import Response


def _get_kwargs(
    *,
    body: ServiceInput,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/score",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorResponse | ServiceOutput:
    if response.status_code == 200:
        response_200 = ServiceOutput.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorResponse.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())

        return response_401

    if response.status_code == 413:
        response_413 = ErrorResponse.from_dict(response.json())

        return response_413

    response_default = ErrorResponse.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorResponse | ServiceOutput]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: ServiceInput,
) -> Response[ErrorResponse | ServiceOutput]:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput):  Example: {'Inputs': {'data': [{'age': 57, 'job': 'technician',
            'marital': 'married', 'education': 'high.school', 'default': 'no', 'housing': 'no',
            'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week': 'mon', 'duration':
            371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure', 'emp.var.rate':
            -1.8, 'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m': 1.299, 'nr.employed':
            5099.1}]}, 'GlobalParameters': {'method': 'predict'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | ServiceOutput]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: ServiceInput,
) -> ErrorResponse | ServiceOutput | None:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput):  Example: {'Inputs': {'data': [{'age': 57, 'job': 'technician',
            'marital': 'married', 'education': 'high.school', 'default': 'no', 'housing': 'no',
            'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week': 'mon', 'duration':
            371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure', 'emp.var.rate':
            -1.8, 'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m': 1.299, 'nr.employed':
            5099.1}]}, 'GlobalParameters': {'method': 'predict'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | ServiceOutput
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: ServiceInput,
) -> Response[ErrorResponse | ServiceOutput]:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput):  Example: {'Inputs': {'data': [{'age': 57, 'job': 'technician',
            'marital': 'married', 'education': 'high.school', 'default': 'no', 'housing': 'no',
            'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week': 'mon', 'duration':
            371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure', 'emp.var.rate':
            -1.8, 'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m': 1.299, 'nr.employed':
            5099.1}]}, 'GlobalParameters': {'method': 'predict'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | ServiceOutput]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: ServiceInput,
) -> ErrorResponse | ServiceOutput | None:
    """Run web service's model and get the prediction output

    Args:
        body (ServiceInput):  Example: {'Inputs': {'data': [{'age': 57, 'job': 'technician',
            'marital': 'married', 'education': 'high.school', 'default': 'no', 'housing': 'no',
            'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week': 'mon', 'duration':
            371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure', 'emp.var.rate':
            -1.8, 'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m': 1.299, 'nr.employed':
            5099.1}]}, 'GlobalParameters': {'method': 'predict'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | ServiceOutput
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
