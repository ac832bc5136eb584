"""The Python peer of `make bench`: Custom::PrivateLinkEndpoint written the way custom resources
usually are (crhelper and boto3), doing what the Rust function does on the emulator for a Create
without Private DNS (verify the service and the subnets, create the endpoint, read its
interfaces) and for a Delete of an endpoint that is gone. Not a product: a yardstick."""

import http.client
import os
import time

import boto3
import crhelper.utils
from crhelper import CfnResource

# crhelper answers over HTTPS only; the emulator's S3 (the ResponseURL) is plain HTTP on
# loopback, as our functions are allowed to answer only under local emulation. Same work, no TLS
# for either side.
if os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127."):
    crhelper.utils.HTTPSConnection = lambda host, context=None: http.client.HTTPConnection(host)

# sleep_on_delete=0: crhelper otherwise waits 120 s on Delete for CloudWatch Logs to catch up.
helper = CfnResource(json_logging=False, log_level="INFO", boto_level="CRITICAL", sleep_on_delete=0)
ec2 = boto3.client("ec2")  # at init, as such functions do


@helper.create
def create(event, _context):
    props = event["ResourceProperties"]
    ec2.describe_vpc_endpoint_services(ServiceNames=[props["ServiceName"]])
    ec2.describe_subnets(SubnetIds=props["SubnetIds"])
    endpoint = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=props["VpcId"], ServiceName=props["ServiceName"],
        SubnetIds=props["SubnetIds"], PrivateDnsEnabled=False, ClientToken=event["RequestId"],
    )["VpcEndpoint"]
    endpoint_id = endpoint["VpcEndpointId"]
    while endpoint["State"].lower() == "pending":
        time.sleep(1)
        endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
    interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=endpoint["NetworkInterfaceIds"])
    helper.Data["PrivateIpAddresses"] = ",".join(i["PrivateIpAddress"] for i in interfaces["NetworkInterfaces"])
    return endpoint_id


@helper.update
def update(_event, _context):
    return None


@helper.delete
def delete(event, _context):
    endpoint_id = event["PhysicalResourceId"]
    if not endpoint_id.startswith("vpce-"):
        return
    try:
        found = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    except ec2.exceptions.ClientError as err:
        if "NotFound" in err.response["Error"]["Code"]:
            return
        raise
    if found and found[0]["State"].lower() not in ("deleted", "deleting"):
        ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])


def handler(event, context):
    helper(event, context)
