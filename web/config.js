// Where the page finds the proteo API. "" = the server that serves this page (proteo serve). A static deployment
// next to the cloud API sets the API Gateway URL, e.g. "https://abc123.execute-api.eu-west-1.amazonaws.com".
window.PROTEO_CONFIG = { apiBase: "" };
